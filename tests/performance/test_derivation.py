"""Indicator expressions: parsing and its errors, evaluation between two readings (wraps, resets, restarts,
missing values), and the shipped indicator specifications."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import yaml

from tmf_oss.performance.builtin_indicators import builtin_indicator_specs
from tmf_oss.performance.counters import COUNTERS, Reading
from tmf_oss.performance.derivation import DerivationError, Missing, parse

START = datetime(2026, 3, 1, tzinfo=timezone.utc)
BOOTED = 1000.0  # the device had been up this many seconds when the test clock started


def reading(seconds: float, values: dict | None = None, *, uptime: float | None = None, no_uptime: bool = False,
            index: int = 2, **interface_values) -> Reading:
    """A reading taken `seconds` after START, of a device up since BOOTED seconds before START (unless `uptime`
    says otherwise, in seconds). Keyword arguments are values of interface `index`; `values` gives any
    (name, index) key."""
    keyed = {(name, index): value for name, value in interface_values.items()}
    keyed.update(values or {})
    if not no_uptime:
        keyed[("sysUpTime", None)] = round((BOOTED + seconds if uptime is None else uptime) * 100)
    return Reading(values=keyed, taken_at=START + timedelta(seconds=seconds), monotonic=seconds)


# -- parsing -------------------------------------------------------------------------------------------------------

def test_parse_names_the_counters_and_the_scope():
    rate = parse("8 * rate(ifHCInOctets)")
    assert rate.counters == {"ifHCInOctets"} and rate.scope == "interface"
    memory = parse("100 * (memTotalReal - memAvailReal) / memTotalReal")
    assert memory.counters == {"memTotalReal", "memAvailReal"} and memory.scope == "device"
    mixed = parse("rate(ifHCInOctets) / memTotalReal")  # any interface value makes it an interface expression
    assert mixed.scope == "interface"
    assert parse("1 + 2").counters == frozenset() and parse("1 + 2").scope == "device"
    assert parse("  ifOperStatus\n").text == "ifOperStatus"


@pytest.mark.parametrize("text, message", [
    ("ifInOctet", "unknown counter 'ifInOctet' at column 1 (did you mean ifInOctets?)"),
    ("8 * rate(ifinoctets)", "unknown counter 'ifinoctets' at column 10 (did you mean ifInOctets?)"),
    ("8 * rate(bogus)", "unknown counter 'bogus' at column 10"),
    ("8 * rate(ifHCInOctets", "syntax error at column 9: '(' was never closed"),
    ("8 *", "syntax error at the end of the expression: invalid syntax"),
    ("rate(ifInOctets) ifOutOctets", "syntax error at column 18: invalid syntax"),
    ("", "the expression is empty"),
    ("(rate(ifHCInOctets)\n + nope)", "unknown counter 'nope' at line 2, column 4"),
    ("avg(ifInOctets)", "unknown function 'avg' at column 1 (functions: abs, delta, fallback, max, min, rate)"),
    ("rates(ifInOctets)", "unknown function 'rates' at column 1 (did you mean rate?)"),
    ("ifInOctets(1)", "counter 'ifInOctets' called as a function at column 1 "
                      "(functions: abs, delta, fallback, max, min, rate)"),
    ("rate + 1", "rate is a function: write rate(...) at column 1"),
    ("rate(ifHighSpeed)", "rate() needs a counter (counter32 or counter64) and ifHighSpeed is a gauge at column 6 "
                          "(use its name alone for its current value)"),
    ("delta(ifOperStatus)", "delta() needs a counter (counter32 or counter64) and ifOperStatus is an enumeration "
                            "at column 7 (use its name alone for its current value)"),
    ("rate(ifInOctets + ifOutOctets)", "rate() takes the name of a counter, not an expression at column 6"),
    ("rate(ifInOctets, ifOutOctets)", "rate() takes exactly 1 argument, got 2 at column 1"),
    ("rate(counter=ifInOctets)", "rate() takes no named arguments at column 1"),
    ("min(ifSpeed)", "min() takes at least 2 arguments, got 1 at column 1"),
    ("ifSpeed ** 2", "operator '**' is not allowed (only + - * /) at column 1"),
    ("ifSpeed % 2", "operator '%' is not allowed (only + - * /) at column 1"),
    ("not ifOperStatus", "operator 'not' is not allowed (only a leading - or +) at column 1"),
    ("ifOperStatus in 1", "comparison 'in' is not allowed (only == != < <= > >=) at column 1"),
    ("ifOperStatus == 1 and ifAdminStatus == 1", "'and' / 'or' is not allowed in an indicator expression at "
                                                  "column 1"),
    ("1 if ifOperStatus == 1 else 0", "'... if ... else ...' is not allowed in an indicator expression at column 1"),
    ("ifSpeed.real", "attribute access ('.') is not allowed in an indicator expression at column 1"),
    ("ifSpeed[0]", "indexing ('[...]') is not allowed in an indicator expression at column 1"),
    ("__import__('os').system('true')", "only the functions rate, delta, min, max, abs and fallback can be called "
                                        "at column 1"),
    ("__import__('os')", "unknown function '__import__' at column 1 "
                         "(functions: abs, delta, fallback, max, min, rate)"),
    ("(lambda: 1)()", "only the functions rate, delta, min, max, abs and fallback can be called at column 1"),
    ("'text'", "'text' is not a number at column 1"),
    ("True", "True is not a number at column 1"),
    ("1e999", "1e999 is not a finite number at column 1"),
    ("-" * 80 + "1", "the expression is nested too deeply at column 62"),
])
def test_every_problem_is_named_with_its_place(text, message):
    with pytest.raises(DerivationError) as raised:
        parse(text)
    assert str(raised.value) == message
    assert isinstance(raised.value, ValueError)


def test_overlong_and_non_text_expressions_are_refused():
    with pytest.raises(DerivationError, match="longer than 2000 characters"):
        parse(" + ".join(["ifSpeed"] * 300))
    with pytest.raises(DerivationError, match="an expression is text, not int"):
        parse(42)


# -- evaluation ----------------------------------------------------------------------------------------------------

def test_rate_and_delta_over_the_interval():
    bit_rate = parse("8 * rate(ifHCInOctets)")
    increase = parse("delta(ifHCInOctets)")
    before, after = reading(0, ifHCInOctets=1_000), reading(10, ifHCInOctets=1_251_000)
    assert bit_rate.evaluate(before, after, 2) == 1_000_000.0
    assert increase.evaluate(before, after, 2) == 1_250_000.0
    # One parsed expression serves any number of intervals and interfaces.
    later = reading(20, ifHCInOctets=1_251_000)
    assert bit_rate.evaluate(after, later, 2) == 0.0


def test_a_bare_name_is_the_current_value_and_needs_no_previous_reading():
    status = parse("ifOperStatus")
    assert status.evaluate(None, reading(0, ifOperStatus=2), 2) == 2.0
    memory = parse("100 * (memTotalReal - memAvailReal) / memTotalReal")
    device = reading(0, {("memTotalReal", None): 1000, ("memAvailReal", None): 250})
    assert memory.evaluate(None, device) == 75.0
    assert memory.evaluate(None, device, 5) == 75.0  # a device expression ignores the interface


def test_the_first_interval_of_a_rate_is_missing():
    assert parse("rate(ifHCInOctets)").evaluate(None, reading(0, ifHCInOctets=5), 2) == Missing(
        "no previous reading (the first interval of a rate or delta)")


def test_a_32_bit_counter_wraps_past_2_to_the_32():
    octets = parse("delta(ifInOctets)")
    before, after = reading(0, ifInOctets=2 ** 32 - 100), reading(60, ifInOctets=50)
    assert octets.evaluate(before, after, 2) == 150.0
    assert parse("rate(ifInOctets)").evaluate(before, after, 2) == 2.5


def test_a_64_bit_counter_wraps_past_2_to_the_64():
    octets = parse("delta(ifHCInOctets)")
    before, after = reading(0, ifHCInOctets=2 ** 64 - 10), reading(60, ifHCInOctets=5)
    assert octets.evaluate(before, after, 2) == 15.0
    # Wraps go by the counter's own width: a 64-bit counter falling from just under 2^32 was reset.
    assert parse("delta(ifHCInOctets)").evaluate(reading(0, ifHCInOctets=2 ** 32 - 10),
                                                 reading(60, ifHCInOctets=5), 2) == Missing(
        "counter ifHCInOctets was reset on ifIndex 2 (went back from 4294967286 to 5)")


def test_a_counter_that_falls_back_was_reset_not_wrapped():
    # From 1e9 to 1000 is 3.3e9 past the top of a 32-bit counter: more than half its range, so a reset.
    assert parse("delta(ifInOctets)").evaluate(reading(0, ifInOctets=1_000_000_000),
                                               reading(60, ifInOctets=1_000), 2) == Missing(
        "counter ifInOctets was reset on ifIndex 2 (went back from 1000000000 to 1000)")
    assert parse("rate(ifHCInOctets)").evaluate(reading(0, ifHCInOctets=10 ** 12),
                                                reading(60, ifHCInOctets=10), 2) == Missing(
        "counter ifHCInOctets was reset on ifIndex 2 (went back from 1000000000000 to 10)")


def test_a_device_restart_is_missing_never_a_huge_delta():
    octets = parse("delta(ifHCInOctets)")
    before = reading(0, ifHCInOctets=5_000_000)
    rebooted = reading(300, ifHCInOctets=2_000, uptime=120)  # sysUpTime went back
    assert octets.evaluate(before, rebooted, 2) == Missing("device restarted")
    # Up for only 10 s at the last reading, then restarted during the interval: the uptime is higher than before
    # but advanced by less than the 300 s that passed.
    young = reading(0, ifHCInOctets=5_000_000, uptime=10)
    assert octets.evaluate(young, reading(300, ifHCInOctets=9_000_000, uptime=200), 2) == Missing(
        "device restarted")
    # A gauge is still read after a restart.
    assert parse("ifOperStatus").evaluate(before, reading(300, ifOperStatus=1, uptime=120), 2) == 1.0


def test_uptime_and_poll_clock_may_differ_a_little_but_not_much():
    octets = parse("delta(ifHCInOctets)")
    before = reading(0, ifHCInOctets=0)
    late_answer = reading(60, ifHCInOctets=600, uptime=BOOTED + 58.5)  # within 2 s: SNMP round trips
    assert octets.evaluate(before, late_answer, 2) == 600.0
    ahead = octets.evaluate(before, reading(60, ifHCInOctets=600, uptime=BOOTED + 90), 2)
    assert ahead == Missing("elapsed time inconsistent: the device's uptime advanced 90.0 s while 60.0 s passed "
                            "between the readings")
    assert octets.evaluate(reading(10, ifHCInOctets=0), reading(10, ifHCInOctets=5), 2) == Missing(
        "no time elapsed between the two readings")


def test_without_sysuptime_wraps_are_assumed_and_resets_still_seen():
    octets = parse("delta(ifInOctets)")
    assert octets.evaluate(reading(0, ifInOctets=2 ** 32 - 1, no_uptime=True),
                           reading(60, ifInOctets=9, no_uptime=True), 2) == 10.0
    assert isinstance(octets.evaluate(reading(0, ifInOctets=10 ** 9, no_uptime=True),
                                      reading(60, ifInOctets=9, no_uptime=True), 2), Missing)


def test_an_interface_whose_counters_restarted_on_their_own_is_missing():
    octets = parse("delta(ifHCInOctets)")
    before = reading(0, ifHCInOctets=100, ifCounterDiscontinuityTime=0)
    after = reading(60, ifHCInOctets=5_000, ifCounterDiscontinuityTime=(BOOTED + 30) * 100)
    assert octets.evaluate(before, after, 2) == Missing(
        "the counters of ifIndex 2 restarted (ifCounterDiscontinuityTime changed)")
    unchanged = reading(60, ifHCInOctets=5_000, ifCounterDiscontinuityTime=0)
    assert octets.evaluate(before, unchanged, 2) == 4_900.0


def test_absent_values_are_missing_with_where():
    bit_rate = parse("8 * rate(ifHCInOctets)")
    assert bit_rate.evaluate(reading(0, ifHCInOctets=1), reading(10, index=3, ifHCInOctets=1), 7) == Missing(
        "counter ifHCInOctets not available on ifIndex 7")
    assert bit_rate.evaluate(reading(0, index=3, ifHCInOctets=1), reading(10, ifHCInOctets=1), 2) == Missing(
        "counter ifHCInOctets not available on ifIndex 2 in the previous reading")
    assert parse("hrProcessorLoad").evaluate(None, reading(0)) == Missing(
        "counter hrProcessorLoad not available on the device")


def test_division_by_zero_is_missing_and_names_the_divisor():
    utilisation = parse("100 * 8 * rate(ifHCInOctets) / (ifHighSpeed * 1000000)")
    before, after = reading(0, ifHCInOctets=0), reading(10, ifHCInOctets=1_250_000, ifHighSpeed=0)
    assert utilisation.evaluate(before, after, 2) == Missing("division by zero: ifHighSpeed * 1000000 is 0")
    after = reading(10, ifHCInOctets=1_250_000, ifHighSpeed=10)
    assert utilisation.evaluate(before, after, 2) == pytest.approx(10.0)


def test_comparisons_give_one_or_zero():
    up = parse("ifOperStatus == 1")
    assert up.evaluate(None, reading(0, ifOperStatus=1), 2) == 1.0
    assert up.evaluate(None, reading(0, ifOperStatus=7), 2) == 0.0
    between = parse("1 < ifOperStatus <= 3")
    assert [between.evaluate(None, reading(0, ifOperStatus=code), 2) for code in (1, 2, 3, 4)] == [0, 1, 1, 0]
    assert parse("(ifOperStatus != 1) * 100").evaluate(None, reading(0, ifOperStatus=2), 2) == 100.0


def test_functions_and_arithmetic():
    now = reading(0, ifSpeed=4_294_967_295, ifHighSpeed=10_000, ifOperStatus=1)
    assert parse("max(ifSpeed, ifHighSpeed * 1e6)").evaluate(None, now, 2) == 1e10
    assert parse("min(ifSpeed, ifHighSpeed * 1e6, 5)").evaluate(None, now, 2) == 5.0
    assert parse("abs(ifOperStatus - 3)").evaluate(None, now, 2) == 2.0
    assert parse("-ifOperStatus + +2 * (3 - 1) / 4").evaluate(None, now, 2) == 0.0


def test_fallback_takes_the_first_value_there_is():
    octets = parse("fallback(delta(ifHCInOctets), delta(ifInOctets))")
    only_32_bit = (reading(0, ifInOctets=10), reading(10, ifInOctets=30))
    assert octets.evaluate(*only_32_bit, 2) == 20.0
    both = (reading(0, ifInOctets=10, ifHCInOctets=10), reading(10, ifInOctets=30, ifHCInOctets=40))
    assert octets.evaluate(*both, 2) == 30.0
    assert octets.evaluate(reading(0), reading(10), 2) == Missing(
        "counter ifHCInOctets not available on ifIndex 2; counter ifInOctets not available on ifIndex 2")
    # A restart is the whole interval's, whatever the fallback.
    assert octets.evaluate(both[0], reading(10, ifInOctets=30, ifHCInOctets=40, uptime=5), 2) == Missing(
        "device restarted")


def test_a_result_that_is_not_finite_is_missing():
    huge = parse("ifSpeed * 1e308 * 1e308")
    assert huge.evaluate(None, reading(0, ifSpeed=10), 2) == Missing("the result is not a finite number")


def test_an_interface_expression_needs_an_ifindex():
    with pytest.raises(ValueError, match="evaluated for an ifIndex"):
        parse("ifOperStatus").evaluate(None, reading(0, ifOperStatus=1))


# -- the shipped indicator specifications --------------------------------------------------------------------------

REQUIRED_INDICATORS = {"ifInBitRate", "ifOutBitRate", "ifInUtilisation", "ifOutUtilisation", "ifInPacketRate",
                       "ifOutPacketRate", "ifInErrorRatio", "ifOutErrorRatio", "ifInDiscardRate",
                       "ifOutDiscardRate", "ifOperStatus", "cpuLoad", "memoryUsed"}


def test_builtin_specifications_are_complete_tmf628_documents():
    specs = builtin_indicator_specs()
    by_id = {spec["id"]: spec for spec in specs}
    assert REQUIRED_INDICATORS <= set(by_id) and len(by_id) == len(specs)
    for spec in specs:
        assert spec["@type"] == "PerformanceIndicatorSpecification"
        assert spec["derivationMethod"] == "expression"
        assert spec["perspective"] == parse(spec["derivationAlgorithm"]).scope
        assert spec["indicatorType"] in ("string", "int", "float", "double")
        assert spec["collectionType"] in ("cumulative", "delta", "discrete_event", "gauge", "status_inspection")
        assert spec["name"] and spec["description"] and spec["indicatorUnit"] and spec["indicatorCategory"]
    specs[0]["name"] = "changed by a caller"
    assert builtin_indicator_specs()[0]["name"] != "changed by a caller"


def _builtin(ident: str):
    return parse({spec["id"]: spec for spec in builtin_indicator_specs()}[ident]["derivationAlgorithm"])


def test_builtin_interface_indicators_compute_what_they_say():
    # 10 s on a 10 Gbit/s interface: 1.25 GB out (1 Gbit/s), 1000 packets in of which 10 with errors.
    before = reading(0, ifHCOutOctets=0, ifHighSpeed=10_000, ifHCInUcastPkts=0, ifHCInMulticastPkts=0,
                     ifHCInBroadcastPkts=0, ifInErrors=0, ifInDiscards=0)
    after = reading(10, ifHCOutOctets=1_250_000_000, ifHighSpeed=10_000, ifHCInUcastPkts=980,
                    ifHCInMulticastPkts=6, ifHCInBroadcastPkts=4, ifInErrors=10, ifInDiscards=30, ifOperStatus=2)
    assert _builtin("ifOutBitRate").evaluate(before, after, 2) == 1e9
    assert _builtin("ifOutUtilisation").evaluate(before, after, 2) == pytest.approx(10.0)
    assert _builtin("ifInPacketRate").evaluate(before, after, 2) == 99.0
    assert _builtin("ifInErrorRatio").evaluate(before, after, 2) == pytest.approx(10 / 1000)
    assert _builtin("ifInDiscardRate").evaluate(before, after, 2) == 3.0
    assert _builtin("ifOperStatus").evaluate(before, after, 2) == 2.0
    # A device without 64-bit counters or ifHighSpeed: the 32-bit counters and ifSpeed.
    old_before = reading(0, ifInOctets=4_294_000_000, ifSpeed=100_000_000)
    old_after = reading(10, ifInOctets=33_032_704, ifSpeed=100_000_000)  # wrapped: 34 000 000 octets
    assert _builtin("ifInBitRate").evaluate(old_before, old_after, 2) == 27_200_000.0
    assert _builtin("ifInUtilisation").evaluate(old_before, old_after, 2) == pytest.approx(27.2)
    # No packet in the period: no error ratio, rather than a ratio of 0.
    assert isinstance(_builtin("ifOutErrorRatio").evaluate(before, reading(10, ifOutErrors=0, ifHCOutUcastPkts=0,
                                                                           ifHCOutMulticastPkts=0,
                                                                           ifHCOutBroadcastPkts=0), 2), Missing)


def test_builtin_device_indicators():
    device = reading(0, {("hrProcessorLoad", None): 37.5, ("memTotalReal", None): 8_000_000,
                         ("memAvailReal", None): 2_000_000})
    assert _builtin("cpuLoad").evaluate(None, device) == 37.5
    assert _builtin("memoryUsed").evaluate(None, device) == 75.0


def test_a_bad_specification_file_fails_loudly(tmp_path):
    good = builtin_indicator_specs()[0]
    bad_file = tmp_path / "indicators.yaml"

    def problem(**changes) -> str:
        bad_file.write_text(yaml.safe_dump({"performanceIndicatorSpecification": [{**good, **changes}]}))
        with pytest.raises(ValueError) as raised:
            builtin_indicator_specs(bad_file)
        return str(raised.value)

    assert problem(derivationAlgorithm="8 * rate(ifHCInOctet)") == (
        f"indicator specifications {bad_file}, entry 1 (ifInBitRate): derivationAlgorithm: unknown counter "
        f"'ifHCInOctet' at column 10 (did you mean ifHCInOctets?)")
    assert problem(perspective="device").endswith(
        "'perspective' is device but the expression is measured on an interface (interface)")
    assert problem(collectionType="sometimes").endswith(
        "'collectionType' must be one of cumulative, delta, discrete_event, gauge, status_inspection")
    assert problem(derivationMethod="average").endswith("'derivationMethod' must be expression")
    assert problem(indicatorUnit="").endswith("'indicatorUnit' must be a non-empty text")
    bad_file.write_text(yaml.safe_dump({"performanceIndicatorSpecification": [good, good]}))
    with pytest.raises(ValueError, match=r"entry 2 \(ifInBitRate\): the id is used by an earlier entry"):
        builtin_indicator_specs(bad_file)
    bad_file.write_text("performanceIndicatorSpecification:\n  - id: a\n    name: [unclosed\n")
    with pytest.raises(ValueError, match="cannot be read"):
        builtin_indicator_specs(bad_file)


def test_every_registered_value_has_a_numeric_oid_kind_scope_and_unit_field():
    for name, counter in COUNTERS.items():
        assert counter.name == name
        assert all(part.isdigit() for part in counter.oid.split("."))
        assert counter.kind in ("counter32", "counter64", "gauge", "enumeration", "timeticks")
        assert counter.scope in ("interface", "device")
        assert counter.scope == "interface" or counter.oid.endswith(".0") or counter.average_of_rows
