from django.apps import AppConfig


class CertificatesConfig(AppConfig):
    name = "certificates"
    verbose_name = "Certificates"

    def ready(self) -> None:
        from audit.team_scope import register_team_resource
        from certificates import models as m

        # Audit rows about these follow the row's team for team-bound readers (audit/team_scope.py).
        register_team_resource(m.ManagedCertificate, "certificate")
        register_team_resource(m.Job, "job")
        register_team_resource(m.ApprovalRequest, "approval_request")
        register_team_resource(m.Owner, "owner")
        register_team_resource(m.DeploymentTarget, "target")
        register_team_resource(m.Team, "team")
        register_team_resource(m.DiscoveredCertificate, "discovered_certificate")

        # SQLite only: a table rebuild by a later migration drops the certificate counters' triggers; put them back.
        from django.db.models.signals import post_migrate

        from certificates.inventory.counter_triggers import ensure_sqlite_counters

        post_migrate.connect(ensure_sqlite_counters, sender=self, dispatch_uid="certificates-sqlite-counters")

        # A local CA's certificate or key may change with an issuer save: OCSP processes forget what they hold.
        from django.db.models.signals import post_delete, post_save

        from certificates.revocation.services.ocsp_memo import issuer_changed

        post_save.connect(issuer_changed, sender=m.Issuer, dispatch_uid="certificates-ocsp-memo-issuer-saved")
        post_delete.connect(
            issuer_changed, sender=m.Issuer, dispatch_uid="certificates-ocsp-memo-issuer-deleted"
        )
