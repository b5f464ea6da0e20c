"""The JSON API's routes, one module per resource; service/app.py mounts them. Their models are in
service/api/schemas.py, and no router imports another (tests/test_layout.py); the HTML pages are in service/pages/."""
