"""Web pages for the three kinds of user: the operators' review queue, the branch heads' daily
summary and the engineers' zone editor. Jinja2 shells plus small vanilla scripts, no build step;
``pages.install(app)`` mounts them on the API app."""
