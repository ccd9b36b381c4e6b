from django.db import models


class Category(models.Model):
    name = models.CharField(max_length=50, unique=True)


class Product(models.Model):
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="products")
    name = models.CharField(max_length=100)
    sku = models.CharField(max_length=20, blank=True, default="")
    price = models.DecimalField(max_digits=8, decimal_places=2)
