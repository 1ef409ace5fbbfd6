"""Graph's checkMemberGroups, the portal's question whether a member of staff is still in
their groups, against an HTTP-level fake with Graph's real answers."""

from __future__ import annotations

import json

import pytest
import requests
import responses

from partner_portal.defender.directory_groups import MembershipUnknown, member_groups
from partner_portal.defender.http import make_session

GRAPH = "https://graph.sandbox.test"
USER = "5d3c2b1a-0f9e-4d8c-b7a6-958473625140"
URL = f"{GRAPH}/v1.0/users/{USER}/checkMemberGroups"
GROUPS = [f"00000000-0000-4000-8000-{n:012d}" for n in range(25)]


def ask(groups: list[str] = GROUPS) -> frozenset[str]:
    return member_groups(
        session=make_session(),
        graph_url=GRAPH,
        token=lambda: "app-token",
        user_id=USER,
        group_ids=groups,
    )


@responses.activate
def test_the_held_groups_come_back_asked_in_batches_of_twenty() -> None:
    def answer(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        asked = json.loads(request.body or b"{}")["groupIds"]
        held = [g for g in asked if g in {GROUPS[3], GROUPS[22]}]
        return 200, {}, json.dumps({"@odata.context": "…", "value": held})

    responses.add_callback(responses.POST, URL, callback=answer)
    assert ask() == {GROUPS[3], GROUPS[22]}
    assert [len(json.loads(c.request.body)["groupIds"]) for c in responses.calls] == [20, 5]
    assert responses.calls[0].request.headers["Authorization"] == "Bearer app-token"


@responses.activate
def test_an_account_that_is_gone_is_in_no_group() -> None:
    body = {"error": {"code": "Request_ResourceNotFound", "message": "Resource does not exist"}}
    responses.add(responses.POST, URL, status=404, json=body)
    assert ask() == frozenset()


@pytest.mark.parametrize(
    "reply",
    [
        {"status": 503, "json": {"error": {"code": "ServiceUnavailable"}}},
        {"status": 403, "json": {"error": {"code": "Authorization_RequestDenied"}}},
        {"status": 200, "body": "not json"},
        {"status": 200, "json": {"value": "not a list"}},
        {"body": requests.ConnectionError("refused")},
    ],
)
@responses.activate
def test_anything_but_an_answer_is_an_unknown_membership(reply: dict[str, object]) -> None:
    responses.add(responses.POST, URL, **reply)  # type: ignore[arg-type]
    with pytest.raises(MembershipUnknown):
        ask()


def test_a_user_id_must_be_an_object_id() -> None:
    with pytest.raises(ValueError, match="object ID"):
        member_groups(
            session=make_session(), graph_url=GRAPH, token=lambda: "t",
            user_id="../../me", group_ids=GROUPS,
        )  # fmt: skip
