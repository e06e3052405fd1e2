"""The agent API's paths under /api/v1/agents, and the agent stream's others: agent groups, deployment on demand
and its verification, target tests."""

from __future__ import annotations

from django.urls import re_path

from certctl.api.routers import OptionalSlashRouter
from certificates.agents.api import deployments
from certificates.agents.api.challenges import ChallengeListView, ChallengePublishedView
from certificates.agents.api.discoveries import DiscoveryReportView
from certificates.agents.api.groups import AgentGroupViewSet
from certificates.agents.api.views import (
    AgentCollectionView,
    AgentDetailView,
    CertificatePickupView,
    CSRBatchView,
    CSRView,
    HeartbeatView,
    JobStatusView,
    RetiredAgentListView,
    WorkView,
)

_ID = r"(?P<agent_id>[A-Za-z0-9_.-]+)"

# Explicit paths, listed before the router's, so these win over any generic /agents viewset.
agent_urlpatterns = [
    re_path(r"^agents/?$", AgentCollectionView.as_view(), name="agent-list"),
    re_path(r"^agents/retired/?$", RetiredAgentListView.as_view(), name="agent-retired"),
    re_path(rf"^agents/{_ID}/heartbeat/?$", HeartbeatView.as_view(), name="agent-heartbeat"),
    re_path(rf"^agents/{_ID}/work/?$", WorkView.as_view(), name="agent-work"),
    re_path(rf"^agents/{_ID}/csr/?$", CSRView.as_view(), name="agent-csr"),
    re_path(rf"^agents/{_ID}/csrs/?$", CSRBatchView.as_view(), name="agent-csr-batch"),
    re_path(
        rf"^agents/{_ID}/certificates/(?P<cert_id>[A-Za-z0-9_.-]+)/?$",
        CertificatePickupView.as_view(),
        name="agent-certificate",
    ),
    re_path(
        rf"^agents/{_ID}/jobs/(?P<job_id>[A-Za-z0-9_.-]+)/status/?$",
        JobStatusView.as_view(),
        name="agent-job-status",
    ),
    re_path(rf"^agents/{_ID}/discoveries/?$", DiscoveryReportView.as_view(), name="agent-discoveries"),
    re_path(rf"^agents/{_ID}/challenges/?$", ChallengeListView.as_view(), name="agent-challenges"),
    re_path(
        rf"^agents/{_ID}/challenges/(?P<token>[A-Za-z0-9_-]+)/published/?$",
        ChallengePublishedView.as_view(),
        name="agent-challenge-published",
    ),
    re_path(rf"^agents/{_ID}/?$", AgentDetailView.as_view(), name="agent-detail"),
]

_PK = r"(?P<pk>[A-Za-z0-9_.-]+)"
groups_router = OptionalSlashRouter()
groups_router.register("agent-groups", AgentGroupViewSet, basename="agent-group")

# Deployment on demand, verification and target tests: before the router's certificates, jobs and targets.
agent_urlpatterns += [
    re_path(rf"^certificates/{_PK}/deploy/?$", deployments.DeployView.as_view(), name="certificate-deploy"),
    re_path(
        rf"^certificates/{_PK}/deployments/?$",
        deployments.CertificateDeploymentsView.as_view(),
        name="certificate-deployments",
    ),
    re_path(rf"^jobs/{_PK}/verify/?$", deployments.JobVerifyView.as_view(), name="job-verify"),
    re_path(
        rf"^jobs/{_PK}/verification/?$", deployments.JobVerificationView.as_view(), name="job-verification"
    ),
    re_path(rf"^targets/{_PK}/test/?$", deployments.TargetTestView.as_view(), name="target-test"),
    *groups_router.urls,
]
