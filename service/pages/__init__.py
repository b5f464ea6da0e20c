"""The HTML pages: routes and rendering (web.py), sign-in sessions for moderators
(sessions.py), the interface's words in every language (i18n.py), and the Jinja templates
and static files they serve. The JSON API is in service/api/."""
