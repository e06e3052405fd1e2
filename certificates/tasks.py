from certificates.expiry_tasks import check_expiring  # noqa: F401 - registers certificates.check_expiring
