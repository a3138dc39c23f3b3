"""Teleradiology quality control under /api/v1: follow-up against the final diagnosis, image
quality grades, senior peer-review scores, and the figures (concordance, image quality,
RADPEER agreement)."""

from __future__ import annotations

from hub import db
from hub.api.core import api_route
from hub.auth.principal import Principal
from imaging.reading.qc import figures, followup, quality, review
from imaging.reading.qc.figures import Period
from imaging.reading.qc.schemas import (
    ConcordanceOut,
    ConcordanceQuery,
    FollowUpIn,
    FollowUpOut,
    ImageQualityFiguresOut,
    ImageQualityIn,
    ImageQualityOut,
    ImageQualityQuery,
    PeerReviewFiguresOut,
    PeerReviewIn,
    PeerReviewOut,
    PeriodQuery,
)


def _period(query: PeriodQuery) -> Period:
    return Period(query.from_, query.to)


@api_route(
    "/reading-requests/<int:request_id>/follow-up",
    "POST",
    summary="Record the final diagnosis (pathology, surgery, discharge) of a completed reading "
    "and whether the report agreed (the requesting facility's clinicians, QA physicians)",
    scope="imaging:read",
    tag="imaging",
    body=FollowUpIn,
    response=FollowUpOut,
    status=201,
    errors=(403, 404, 409, 422),
)
def record_follow_up(principal: Principal, request_id: int, body: FollowUpIn) -> FollowUpOut:
    row = followup.record(db.session(), principal, request_id, body)
    return FollowUpOut.model_validate(row)


@api_route(
    "/reading-requests/<int:request_id>/image-quality",
    "PUT",
    summary="Grade the study's images excellent, acceptable or poor (a poor grade names its "
    "defect); the reading radiologist",
    scope="imaging:write",
    tag="imaging",
    body=ImageQualityIn,
    response=ImageQualityOut,
    errors=(403, 404, 409, 422),
)
def grade_image_quality(
    principal: Principal, request_id: int, body: ImageQualityIn
) -> ImageQualityOut:
    return ImageQualityOut.model_validate(quality.grade(db.session(), principal, request_id, body))


@api_route(
    "/peer-reviews/<int:review_id>",
    "POST",
    summary="Score an assigned senior review on the RADPEER 2016 scale (1, 2a, 2b, 3a, 3b; a "
    "comment is required for 2b, 3a and 3b)",
    scope="imaging:write",
    tag="imaging",
    body=PeerReviewIn,
    response=PeerReviewOut,
    errors=(403, 404, 409, 422),
)
def score_peer_review(principal: Principal, review_id: int, body: PeerReviewIn) -> PeerReviewOut:
    return PeerReviewOut.model_validate(review.score(db.session(), principal, review_id, body))


@api_route(
    "/qc/concordance",
    summary="Concordance with the final diagnosis per radiologist, facility or modality over "
    "readings completed in the period, with the discordant cases; a rate without cases is null",
    scope="imaging:read",
    tag="imaging",
    query=ConcordanceQuery,
    response=ConcordanceOut,
    errors=(403,),
)
def qc_concordance(principal: Principal, query: ConcordanceQuery) -> ConcordanceOut:
    data = figures.concordance(db.session(), principal, query.group_by, _period(query))
    return ConcordanceOut.model_validate(data)


@api_route(
    "/qc/image-quality",
    summary="Image-quality excellent rate per sending facility or device over grades given in "
    "the period; a rate without grades is null",
    scope="imaging:read",
    tag="imaging",
    query=ImageQualityQuery,
    response=ImageQualityFiguresOut,
    errors=(403,),
)
def qc_image_quality(principal: Principal, query: ImageQualityQuery) -> ImageQualityFiguresOut:
    data = figures.image_quality(db.session(), principal, query.group_by, _period(query))
    return ImageQualityFiguresOut.model_validate(data)


@api_route(
    "/qc/peer-review",
    summary="RADPEER agreement (score 1 of scored) per reviewed radiologist over reviews scored "
    "in the period, with the pending and overdue counts; a rate without scores is null",
    scope="imaging:read",
    tag="imaging",
    query=PeriodQuery,
    response=PeerReviewFiguresOut,
    errors=(403,),
)
def qc_peer_review(principal: Principal, query: PeriodQuery) -> PeerReviewFiguresOut:
    data = figures.peer_review(db.session(), principal, _period(query))
    return PeerReviewFiguresOut.model_validate(data)
