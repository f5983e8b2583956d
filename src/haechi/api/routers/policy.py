"""The published policy: the version in force and those announced (public), fresh consent."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from haechi.api.deps import ERRORS, ActorDep, EngineDep, IdPath, IpDep
from haechi.api.schemas import ConsentIn
from haechi.engine import PublishedVersion

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", responses=ERRORS)


class VersionOut(BaseModel):
    """One published version of the policy."""

    n: int = Field(description="Version number, from 1.")
    id: str = Field(description="First 16 hex digits of the file's SHA-256.")
    label: str = Field(description="The file's own version label.")
    content_hash: str = Field(description="SHA-256 of the policy file published.")
    announced_at: datetime
    effective_at: datetime

    @classmethod
    def of(cls, version: PublishedVersion) -> VersionOut:
        """The body of ``version``."""
        return cls(**version.as_dict())


class PolicyOut(BaseModel):
    """The version in force (none before the first takes effect) and those announced."""

    in_force: VersionOut | None
    upcoming: list[VersionOut]


class ConsentRenewed(BaseModel):
    """A collection's consent now covers the policy in force."""

    collection_id: str
    policy_version: str
    expires_at: datetime


@router.get("/policy", response_model=PolicyOut)
def policy(engine: EngineDep) -> PolicyOut:
    """The policy in force and the versions announced to follow it (public, no token)."""
    in_force, upcoming = engine.policy_status()
    return PolicyOut(
        in_force=VersionOut.of(in_force) if in_force else None,
        upcoming=[VersionOut.of(version) for version in upcoming],
    )


@router.get("/policy/versions", response_model=list[VersionOut])
def versions(engine: EngineDep) -> list[VersionOut]:
    """Every published version, oldest first (public, no token)."""
    return [VersionOut.of(version) for version in engine.published_versions()]


@router.post("/collections/{collection_id}/consent", response_model=ConsentRenewed)
def renew_consent(
    collection_id: IdPath, body: ConsentIn, engine: EngineDep, actor: ActorDep, ip: IpDep
) -> ConsentRenewed:
    """Record the subject's fresh consent to the policy in force (evidence as at collection).

    The token must serve the collection's purpose.
    """
    renewed = engine.renew_consent(
        collection_id,
        consent=body.evidence(ip),
        actor=actor,
    )
    return ConsentRenewed(
        collection_id=renewed.collection_id,
        policy_version=renewed.policy_version,
        expires_at=renewed.expires_at,
    )
