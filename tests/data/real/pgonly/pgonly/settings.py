"""A project that only migrates on PostgreSQL: its second migration is PostgreSQL's own SQL."""
SECRET_KEY = "pgonly-not-a-secret"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "ledger"]
DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "pgonly"}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = True
