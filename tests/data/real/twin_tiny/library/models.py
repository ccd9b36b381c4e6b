from django.db import models


class Stamped(models.Model):
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True


class Author(Stamped):
    name = models.CharField(max_length=120)
    email = models.EmailField(blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "writer"


class Tag(models.Model):
    slug = models.SlugField(unique=True)


class Book(Stamped):
    title = models.CharField(max_length=200, help_text="as printed")
    isbn = models.CharField(max_length=13, blank=True, default="")
    pages = models.PositiveIntegerField(default=0)
    price = models.DecimalField(max_digits=8, decimal_places=2, null=True)
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="books")
    tags = models.ManyToManyField(Tag, through="BookTag", blank=True)
    sequel = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["title"]
        indexes = [models.Index(fields=["isbn"], name="library_isbn_idx")]
        constraints = [models.CheckConstraint(condition=models.Q(pages__gte=0), name="library_pages_gte_0")]


class BookTag(models.Model):
    book = models.ForeignKey(Book, on_delete=models.CASCADE)
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE)
    weight = models.SmallIntegerField(default=1)

    class Meta:
        unique_together = [("book", "tag")]


class ShortBook(Book):
    class Meta:
        proxy = True
