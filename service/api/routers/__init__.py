"""The JSON API's routes, one module per resource; service/app.py mounts them (the pages are service/pages/web.py)."""
