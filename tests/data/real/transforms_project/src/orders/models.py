from django.db import models


class Order(models.Model):
    product = models.ForeignKey("catalog.Product", on_delete=models.CASCADE)
    quantity = models.BigIntegerField(default=1)
    total = models.DecimalField(max_digits=10, decimal_places=2, default=0)
