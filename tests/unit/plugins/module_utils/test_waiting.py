# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The waiter with a fake clock and a scripted reader: deadline, pauses, what is retried, the failure text."""

from __future__ import annotations

import pytest

from ansible_collections.consul.peering.plugins.module_utils import waiting
from ansible_collections.consul.peering.plugins.module_utils.errors import (
    ConsulAPIError, ConsulConnectionError, ConsulError, ConsulPermissionError, ConsulRedirectError, ConsulTLSError,
    ConsulTimeoutError,
)
from ansible_collections.consul.peering.plugins.module_utils.peering import PeeringError
from ansible_collections.consul.peering.plugins.module_utils.waiting import Stall, Waiter, deletion_mark, is_retryable

from ansible_collections.consul.peering.tests.support.consul_data import make_peering

START = 1000.0


class Clock:
    """A monotonic clock that only moves when something sleeps or a read takes time."""

    def __init__(self):
        self.now = START
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        assert seconds > 0
        self.sleeps.append(seconds)
        self.now += seconds


class Reader:
    """Answers reads from a script (a peering or None, an exception, or `hang`); the last answer repeats.

    Records (time of the read, deadline passed) for every read.
    """

    def __init__(self, clock, *answers):
        self.clock = clock
        self.answers = list(answers)
        self.reads = []

    def __call__(self, deadline):
        self.reads.append((self.clock.now, deadline))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if answer is hang:
            # A server that never answers: the client gives up at the deadline it was given.
            self.clock.now = max(self.clock.now, deadline)
            raise ConsulTimeoutError('Consul did not answer GET /v1/peering/dc1 within 10s (timeout)')
        if isinstance(answer, Exception):
            raise answer
        return answer


def hang():
    """Marker for a read that hangs until its deadline."""


def active(peering):
    return peering is not None and peering['State'] == 'ACTIVE'


def waiter_for(*answers, timeout=10):
    clock = Clock()
    reader = Reader(clock, *answers)
    return Waiter(reader, 'dc1', timeout, clock=clock, sleep=clock.sleep), reader, clock


PENDING, FAILING, ACTIVE = (make_peering('dialer', state) for state in ('PENDING', 'FAILING', 'ACTIVE'))


# -- the deadline ---------------------------------------------------------------------------

def test_every_read_is_given_the_deadline_fixed_when_the_wait_starts():
    waiter, reader, _clock = waiter_for(PENDING, PENDING, PENDING, ACTIVE)
    assert waiter.until(active, 'become ACTIVE') is ACTIVE
    assert len(reader.reads) == 4
    assert {deadline for _at, deadline in reader.reads} == {START + 10}


def test_a_wait_that_never_gets_there_ends_by_its_deadline_and_no_read_starts_after_it():
    waiter, reader, clock = waiter_for(PENDING, timeout=10)
    with pytest.raises(PeeringError):
        waiter.until(active, 'become ACTIVE')
    assert clock.now <= START + 10
    assert all(at <= START + 10 for at, _deadline in reader.reads)
    # Pauses grow by half each time, up to half a second in the first ten seconds; the last one that would end
    # past the deadline is skipped.
    assert clock.sleeps[:4] == pytest.approx([0.05, 0.075, 0.1125, 0.16875])
    assert max(clock.sleeps) == 0.5
    assert clock.now + 0.5 > START + 10


def test_pauses_stay_short_while_consul_may_still_open_the_stream_then_grow():
    # Consul 1.14 opens a new dialing stream from a sync loop that runs every 5 s after a burst: a wait reads
    # soon after a write (a rested Consul is ACTIVE within 0.03 s) and at most 0.5 s late while that loop
    # may run, then backs off to one read every 2 s.
    waiter, reader, clock = waiter_for(PENDING, timeout=30)
    with pytest.raises(PeeringError):
        waiter.until(active, 'become ACTIVE')
    assert reader.reads[0][0] == pytest.approx(START + 0.05)  # the first read after a write
    early = [at for at, _deadline in reader.reads if at <= START + 10]
    assert max(later - sooner for sooner, later in zip(early, early[1:])) <= 0.5
    assert max(clock.sleeps) == 2.0
    assert len(reader.reads) < 40


def test_a_server_that_never_answers_ends_the_wait_at_its_deadline():
    waiter, reader, clock = waiter_for(PENDING, hang, timeout=10)
    with pytest.raises(PeeringError, match='last error: Consul did not answer'):
        waiter.until(active, 'become ACTIVE')
    assert clock.now == START + 10
    assert len(reader.reads) == 2


def test_the_clock_starts_once_so_a_wait_continued_after_its_first_read_keeps_its_deadline():
    waiter, reader, clock = waiter_for(ConsulConnectionError('refused'), PENDING, hang, timeout=10)
    assert waiter.first_read('become ACTIVE') is PENDING
    clock.now += 3  # the module plans between the first read and the rest of the wait
    with pytest.raises(PeeringError):
        waiter.until(active, 'become ACTIVE', known=PENDING)
    assert {deadline for _at, deadline in reader.reads} == {START + 10}
    assert clock.now == START + 10


# -- what is waited through -----------------------------------------------------------------

@pytest.mark.parametrize('error', [
    ConsulConnectionError('Could not reach Consul for GET ...: connection refused'),
    ConsulConnectionError('The connection broke while reading Consul\'s answer (connection reset by peer)'),
    ConsulTimeoutError('Consul did not answer GET ... within 30s (timeout)'),
    ConsulAPIError('Consul failed to handle GET ... (HTTP 500): No cluster leader', status=500),
    ConsulAPIError('Consul failed to handle GET ... (HTTP 503): rpc error', status=503),
    ConsulAPIError('Consul rejected GET ... (HTTP 429): rate limit exceeded', status=429),
])
def test_errors_a_restart_or_a_busy_server_gives_keep_the_wait_going(error):
    waiter, reader, _clock = waiter_for(error, error, ACTIVE)
    assert waiter.until(active, 'become ACTIVE') is ACTIVE
    assert len(reader.reads) == 3
    assert is_retryable(error)


@pytest.mark.parametrize('error', [
    ConsulPermissionError('Permission denied (HTTP 403)', status=403),
    ConsulAPIError('Consul rejected GET ... (HTTP 400): Invalid query parameter', status=400),
    ConsulRedirectError('Consul answered GET ... with HTTP 307', status=307),
    ConsulTLSError('TLS connection to https://... failed: certificate verify failed'),
])
def test_an_answer_that_waiting_cannot_change_stops_the_wait_at_once(error):
    waiter, reader, _clock = waiter_for(PENDING, error, ACTIVE)
    with pytest.raises(ConsulError) as raised:
        waiter.until(active, 'become ACTIVE')
    assert raised.value is error
    assert len(reader.reads) == 2
    assert not is_retryable(error)


def test_done_may_end_the_wait_early():
    def terminated_is_final(peering):
        if peering['State'] == 'TERMINATED':
            raise PeeringError('Peering dc1 is TERMINATED')
        return False
    waiter, reader, _clock = waiter_for(PENDING, make_peering('dialer', 'TERMINATED'), ACTIVE)
    with pytest.raises(PeeringError, match='is TERMINATED'):
        waiter.until(terminated_is_final, 'become ACTIVE')
    assert len(reader.reads) == 2


# -- the first read -------------------------------------------------------------------------

def test_after_a_write_the_first_read_comes_after_a_pause():
    waiter, reader, _clock = waiter_for(ACTIVE)
    waiter.until(active, 'become ACTIVE')
    assert reader.reads == [(START + waiting.POLL_FIRST, START + 10)]


def test_a_state_just_read_that_is_the_goal_costs_no_read():
    waiter, reader, clock = waiter_for(ACTIVE)
    assert waiter.until(active, 'become ACTIVE', known=ACTIVE) is ACTIVE
    assert reader.reads == [] and clock.sleeps == []


def test_first_read_reads_at_once_and_returns_any_answer():
    waiter, reader, clock = waiter_for(None)
    assert waiter.first_read('become ACTIVE') is None
    assert reader.reads == [(START, START + 10)] and clock.sleeps == []


def test_first_read_reads_through_a_server_that_is_down_or_restarting():
    refused = ConsulConnectionError('Could not reach Consul for GET ...: connection refused')
    waiter, reader, _clock = waiter_for(refused, refused, ConsulAPIError('No cluster leader', status=500), PENDING)
    assert waiter.first_read('become ACTIVE') is PENDING
    assert len(reader.reads) == 4


def test_first_read_stops_on_a_permission_error():
    waiter, reader, _clock = waiter_for(ConsulPermissionError('Permission denied', status=403), PENDING)
    with pytest.raises(ConsulPermissionError):
        waiter.first_read('become ACTIVE')
    assert len(reader.reads) == 1


def test_first_read_of_a_server_that_stays_down_fails_at_the_deadline_naming_the_error():
    waiter, _reader, clock = waiter_for(ConsulConnectionError('Could not reach Consul: connection refused'))
    with pytest.raises(PeeringError) as raised:
        waiter.first_read('become ACTIVE')
    assert str(raised.value) == ("Timed out after 10s waiting for peering 'dc1' to become ACTIVE; last error: "
                                 'Could not reach Consul: connection refused')
    assert clock.now <= START + 10


# -- a server that has just come back --------------------------------------------------------

ACL_NOT_FOUND = ConsulPermissionError('Permission denied for GET ... (HTTP 403): ACL not found', status=403,
                                      body='ACL not found')
REFUSED = ConsulConnectionError('Could not reach Consul for GET ...: connection refused')


def test_a_token_not_found_right_after_the_server_came_back_is_read_again():
    waiter, reader, _clock = waiter_for(REFUSED, ACL_NOT_FOUND, ACL_NOT_FOUND, PENDING, ACTIVE)
    assert waiter.until(active, 'become ACTIVE') is ACTIVE
    assert len(reader.reads) == 5


def test_a_peering_not_found_right_after_the_server_came_back_is_read_again_before_it_ends_the_wait():
    def present(peering):
        if peering is None:
            raise PeeringError('disappeared')
        return active(peering)
    waiter, reader, _clock = waiter_for(REFUSED, None, ACTIVE)
    assert waiter.until(present, 'become ACTIVE') is ACTIVE
    assert len(reader.reads) == 3


def test_a_server_that_came_back_is_believed_once_it_has_answered_for_settle_seconds():
    waiter, reader, clock = waiter_for(REFUSED, None, timeout=30)
    assert waiter.until(lambda peering: peering is None, 'be deleted') is None
    came_back = reader.reads[1][0]
    assert reader.reads[-1][0] - came_back >= waiting.SETTLE_SECONDS
    assert all(at - came_back < waiting.SETTLE_SECONDS for at, _deadline in reader.reads[1:-1])
    assert clock.now < START + 30


def test_a_token_not_found_by_a_server_that_did_not_fail_in_this_wait_stops_it():
    waiter, reader, _clock = waiter_for(PENDING, ACL_NOT_FOUND, ACTIVE)
    with pytest.raises(ConsulPermissionError):
        waiter.until(active, 'become ACTIVE')
    assert len(reader.reads) == 2


def test_a_peering_gone_without_a_failure_before_ends_a_wait_for_gone_at_once():
    waiter, reader, _clock = waiter_for(PENDING, None)
    assert waiter.until(lambda peering: peering is None, 'be deleted') is None
    assert len(reader.reads) == 2


def test_other_permission_errors_stop_the_wait_even_right_after_the_server_came_back():
    lacks = ConsulPermissionError("Permission denied: token lacks permission 'peering:read'", status=403,
                                  body="Permission denied: token lacks permission 'peering:read'")
    waiter, reader, _clock = waiter_for(REFUSED, lacks, ACTIVE)
    with pytest.raises(ConsulPermissionError):
        waiter.until(active, 'become ACTIVE')
    assert len(reader.reads) == 2


# -- the final message ----------------------------------------------------------------------

def test_the_failure_names_the_last_state_and_its_stream():
    waiter, _reader, _clock = waiter_for(PENDING, FAILING, timeout=3)
    with pytest.raises(PeeringError) as raised:
        waiter.until(active, 'become ACTIVE')
    message = str(raised.value)
    assert message.startswith("Timed out after 3s waiting for peering 'dc1' to become ACTIVE; state FAILING, "
                              'last heartbeat 2026-11-29T00:08:25')
    assert 'imported services 0, exported services 0' in message


def test_the_failure_after_a_failed_last_read_names_the_error_and_the_last_state_seen():
    waiter, _reader, _clock = waiter_for(FAILING, ConsulAPIError('Consul failed (HTTP 500): No cluster leader',
                                                                 status=500), timeout=3)
    with pytest.raises(PeeringError) as raised:
        waiter.until(active, 'become ACTIVE')
    assert str(raised.value).startswith(
        "Timed out after 3s waiting for peering 'dc1' to become ACTIVE; last error: Consul failed (HTTP 500): No "
        'cluster leader; last state seen: state FAILING, last heartbeat')


def test_the_failure_of_a_wait_for_gone_says_the_peering_is_still_deleting():
    deleting = make_peering('acceptor', 'TERMINATED', DeletedAt='2026-11-29T00:10:00Z')
    waiter, _reader, _clock = waiter_for(deleting, timeout=2)
    with pytest.raises(PeeringError, match="to be deleted; state DELETING"):
        waiter.until(lambda peering: peering is None, 'be deleted')


# -- acting on an answer: a deletion that stands still ---------------------------------------

def test_on_answer_sees_every_answer_that_is_not_done_and_its_retryable_errors_are_waited_through():
    seen = []

    def on_answer(peering):
        seen.append(peering['State'])
        if len(seen) == 1:
            raise ConsulConnectionError('reset')
    waiter, reader, _clock = waiter_for(PENDING, FAILING, ACTIVE)
    assert waiter.until(active, 'become ACTIVE', on_answer=on_answer) is ACTIVE
    assert seen == ['PENDING', 'FAILING'] and len(reader.reads) == 3


def test_stall_tells_when_the_same_key_stood_still_long_enough_and_then_starts_over():
    clock = Clock()
    stall = Stall(10, clock)
    answers = []
    for step, key in enumerate(['a', 'a', 'a', 'b', 'b', 'b', None, None, None] + ['b'] * 5):
        answers.append((step, stall.seen(key)))
        clock.now += 5
    # 'a' from 0 s fires at 10 s; 'b' again from 15 s at 25 s; None never; 'b' anew from 45 s, at 55 s and 65 s.
    assert [step for step, fired in answers if fired] == [2, 5, 11, 13]


@pytest.mark.parametrize('peering, mark', [
    (make_peering('acceptor', 'TERMINATED', DeletedAt='2026-11-29T00:10:00Z'),
     ('7c0ad1b6-5b0d-8f3a-5d1e-1b8b3c2c9a10', '2026-11-29T00:10:00Z')),
    (make_peering('acceptor', 'DELETING', DeletedAt='2026-11-29T00:10:00Z'),
     ('7c0ad1b6-5b0d-8f3a-5d1e-1b8b3c2c9a10', '2026-11-29T00:10:00Z')),
    # Not marked for deletion: a peering of the same name created since; never deleted again.
    (make_peering('acceptor', 'ACTIVE'), None),
    (make_peering('acceptor', 'TERMINATED'), None),
    (None, None),
])
def test_deletion_mark_is_set_only_for_a_peering_marked_for_deletion(peering, mark):
    if peering is not None:
        peering['ID'] = '7c0ad1b6-5b0d-8f3a-5d1e-1b8b3c2c9a10'
    assert deletion_mark(peering) == mark
