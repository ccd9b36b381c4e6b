from django.db import models


class Entry(models.Model):
    amount = models.DecimalField(max_digits=12, decimal_places=2)
