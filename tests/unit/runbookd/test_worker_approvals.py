"""The waiting approvals the API lists, kept by the engine thread batch by batch.

Only the rows of incidents a batch touched are rebuilt (the list grows with open payment
incidents); these tests check that the list still says exactly what the engine waits for.
"""

from __future__ import annotations

from datetime import timedelta

from runbookd.service.approvals import ApprovalsView
from tests.unit.postmortem.rig import Rig


def _outage(rig: Rig, channel: str) -> None:
    rig.alert("PaymentFailureRateHigh", channel=channel)
    rig.alert("PaymentChannelProbeFailed", channel=channel)


def test_each_incident_waiting_for_a_person_is_listed_once_with_its_deadline(rig: Rig) -> None:
    _outage(rig, "alipay")
    rig.at(timedelta(minutes=1))
    _outage(rig, "wechat")

    listed = rig.worker.approvals

    assert [(a["id"], a["incident"], a["step"]) for a in listed] == [
        ("INC-1:switch_channel", "INC-1", "switch_channel"),
        ("INC-2:switch_channel", "INC-2", "switch_channel"),
    ]
    # approval timeout 10m from when each was asked for; INC-2 a minute later
    first, second = (a["deadline"] for a in listed)
    assert first < second
    assert {a["runbook"] for a in listed} == {"payment-channel-abnormal"}
    assert listed == ApprovalsView().rows(rig.worker.engine)  # what a full rebuild says


def test_a_decision_removes_only_that_approval_and_leaves_the_others_as_they_were(
    rig: Rig,
) -> None:
    _outage(rig, "alipay")
    _outage(rig, "wechat")
    other_before = [a for a in rig.worker.approvals if a["incident"] == "INC-2"]

    rig.action(action="decide", approval="INC-1:switch_channel", approved=True, by="bob")

    assert rig.worker.approvals == other_before
    assert rig.worker.approvals == ApprovalsView().rows(rig.worker.engine)


def test_an_approval_that_times_out_leaves_the_list(rig: Rig) -> None:
    _outage(rig, "alipay")
    assert [a["id"] for a in rig.worker.approvals] == ["INC-1:switch_channel"]

    rig.at(timedelta(minutes=11))  # the 10m approval timeout escalates

    assert rig.worker.approvals == []
