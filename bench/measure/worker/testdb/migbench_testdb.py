# -*- coding: utf-8 -*-
"""The "empty" test module `manage.py test migbench_testdb` runs to time test-database creation.

One test that does nothing: with no test at all, Django >= 3.1 creates no test
database (it only sets up the databases the collected tests use). Python 2.7
.. 3.13, Django 1.7 .. 6.1.

On a server engine Django creates the test database NAME_test (the generated
settings' TEST NAME, a scratch name of the same run) and drops it at the
end; a leftover of that name is dropped first without asking, since the dev
loop passes --noinput (bench/strategies/daily.py). Nothing here depends on
the engine.
"""

from django.test import TestCase


class TestDatabaseCreation(TestCase):
    def test_nothing(self):
        pass
