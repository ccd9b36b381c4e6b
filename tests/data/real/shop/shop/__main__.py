"""`python -m shop migrate`: the shop's own launcher, as installed projects have instead of manage.py."""
import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["shop"] + sys.argv[1:])


if __name__ == "__main__":
    main()
