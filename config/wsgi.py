import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()
# Import the URLconf (every view module, DRF, the API schema) now rather than on a worker's
# first request, which it slowed by ~0.6 s.
get_resolver().url_patterns  # noqa: B018 - the access loads it
