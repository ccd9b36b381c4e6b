from django.conf import settings
from django.db import models


class Member(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    joined = models.DateField()
    active = models.BooleanField(default=True)


class Loan(models.Model):
    member = models.ForeignKey(Member, on_delete=models.PROTECT)
    book = models.ForeignKey("library.Book", on_delete=models.CASCADE)
    due = models.DateField()
    returned = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)


class Branch(models.Model):
    code = models.CharField(max_length=8, unique=True)
    books = models.ManyToManyField("library.Book", blank=True)
