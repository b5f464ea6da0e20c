"""The HTML pages: the public pages' routes and rendering (web.py), the moderators' /admin
pages (admin.py) and their sign-in sessions (sessions.py), the interface's words in every
language (i18n.py), and the Jinja templates and static files they serve. The JSON API is in
service/api/; its routers never import these pages."""
