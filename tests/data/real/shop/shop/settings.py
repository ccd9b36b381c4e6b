"""A django-oscar sandbox-style shop: oscar's apps plus two of its own (catalogue_extra, loyalty)."""
import os
from oscar.defaults import *  # noqa
from oscar import INSTALLED_APPS as OSCAR_APPS
BASE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Configuration from the environment, as real deployments do (migbench: --env SHOP_SECRET_KEY=...).
SECRET_KEY = os.environ["SHOP_SECRET_KEY"]
REDIS_URL = os.environ.get("REDIS_URL", "redis://localhost:6379/0")
DEBUG = True
INSTALLED_APPS = list(OSCAR_APPS) + ["catalogue_extra", "loyalty.apps.LoyaltyConfig"]
SITE_ID = 1
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.path.join(BASE_DIR, "db.sqlite3")}}
HAYSTACK_CONNECTIONS = {"default": {"ENGINE": "haystack.backends.simple_backend.SimpleEngine"}}
MIDDLEWARE = ["django.contrib.sessions.middleware.SessionMiddleware","django.contrib.auth.middleware.AuthenticationMiddleware","django.contrib.messages.middleware.MessageMiddleware"]
ROOT_URLCONF = "shop.urls"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True, "OPTIONS": {"context_processors": ["django.template.context_processors.request","django.contrib.auth.context_processors.auth","django.contrib.messages.context_processors.messages"]}}]
