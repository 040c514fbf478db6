"""Approvals cover images of untrusted registries too (DockerfileApproval becomes Approval,
with a kind); a trusted registry gets its allowed images, pull policy and login; the image
catalogue records the registries' images."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("builds", "0005_dockerfile_approvals"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="dockerfileapproval", name="one_approval_per_dockerfile"),
        migrations.RenameModel("DockerfileApproval", "Approval"),
        migrations.RenameField(model_name="build", old_name="dockerfile_approval", new_name="approval"),
        migrations.AlterField(
            model_name="build",
            name="approval",
            field=models.ForeignKey(blank=True, help_text="the decision its custom Dockerfile or its image waited for", null=True, on_delete=models.deletion.SET_NULL, related_name="builds", to="builds.approval"),
        ),
        migrations.AddField(
            model_name="approval",
            name="kind",
            field=models.CharField(choices=[("dockerfile", "Dockerfile"), ("image", "image")], default="dockerfile", max_length=20),
        ),
        migrations.AlterField(
            model_name="approval",
            name="code",
            field=models.CharField(help_text="the review digest's or the image digest's first characters", max_length=64),
        ),
        migrations.AlterField(
            model_name="approval",
            name="path",
            field=models.CharField(help_text="the Dockerfile, in the project; or the image as named", max_length=300),
        ),
        migrations.AlterField(
            model_name="approval",
            name="text",
            field=models.TextField(help_text="the Dockerfile; or the image's name by digest"),
        ),
        migrations.AddConstraint(
            model_name="approval",
            constraint=models.UniqueConstraint(fields=("project", "code"), name="one_approval_per_code"),
        ),
        migrations.AddField(
            model_name="trustedregistry",
            name="allowed_images",
            field=models.TextField(default="*", help_text="globs of the images allowed, one per line, as the registry's own path: xcargo/*, cross-rs/*:main"),
        ),
        migrations.AddField(
            model_name="trustedregistry",
            name="pull_policy",
            field=models.CharField(choices=[("always", "always"), ("if-not-present", "if-not-present"), ("never", "never")], default="if-not-present", max_length=20),
        ),
        migrations.AddField(
            model_name="trustedregistry",
            name="username",
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.AddField(
            model_name="trustedregistry",
            name="password",
            field=models.CharField(blank=True, max_length=500),
        ),
        migrations.AlterField(
            model_name="image",
            name="origin",
            field=models.CharField(choices=[("bootstrapped", "bootstrapped here"), ("pulled", "pulled"), ("built", "built from a Dockerfile"), ("local", "found on the engine"), ("registry", "in a registry, not pulled")], default="local", max_length=20),
        ),
    ]
