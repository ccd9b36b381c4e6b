from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('lending', '0001_initial'),
        ('library', '0003_details'),
    ]

    operations = [
        migrations.AddField(
            model_name='loan',
            name='note',
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name='loan',
            name='returned',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.CreateModel(
            name='Branch',
            fields=[
                ('id', models.AutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('code', models.CharField(max_length=8, unique=True)),
                ('books', models.ManyToManyField(blank=True, to='library.book')),
            ],
        ),
    ]
