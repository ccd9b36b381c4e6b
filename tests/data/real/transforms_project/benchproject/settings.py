"""The overlay migbench's prepare writes into its copy: the user's settings, DATABASES from the run."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.path.join(ROOT, "src") not in sys.path:  # the project's src/ layout, as its manage.py sets it up
    sys.path.insert(0, os.path.join(ROOT, "src"))

from shopsite.settings import *  # noqa: E402,F401,F403

_URL = os.environ["MIGBENCH_DATABASE_URL"]
if not _URL.startswith("sqlite:///"):
    raise ValueError("this test project runs on SQLite only: %r" % _URL)
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3",
                         "NAME": os.path.join(ROOT, _URL[len("sqlite:///"):])}}
