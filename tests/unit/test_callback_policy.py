"""Where callbacks may go: the operator's callback policy (callbacks.py), without a network."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from fakedns import Names
from gavel_operator.callbacks import CallbackError, Policy, PolicyResolver, destination
from gavel_operator.settings import Settings

REFUSED_BY_DEFAULT = {
    "127.0.0.1": "loopback", "127.255.0.9": "loopback", "::1": "loopback",
    "169.254.169.254": "link-local", "fe80::1": "link-local",
    "0.0.0.0": "unspecified", "0.1.2.3": "unspecified", "::": "unspecified",
    "224.0.0.1": "multicast", "239.255.255.250": "multicast", "ff02::1": "multicast",
    "10.0.0.1": "private", "10.96.0.1": "private", "172.16.0.1": "private", "172.31.255.254": "private",
    "192.168.1.1": "private", "100.64.0.1": "CGNAT", "100.127.255.254": "CGNAT",
    "fc00::1": "unique-local", "fd12:3456::1": "unique-local", "255.255.255.255": "reserved",
    # IPv4 carried in IPv6: each reaches the IPv4 address it carries
    "::ffff:127.0.0.1": "loopback", "::ffff:10.0.0.1": "private", "64:ff9b::a9fe:a9fe": "link-local",
    "2002:c0a8:101::1": "private",
}
PUBLIC = ["1.1.1.1", "8.8.8.8", "93.184.216.34", "172.32.0.1", "100.128.0.1", "11.0.0.1",
          "2606:4700:4700::1111", "2001:4860:4860::8888", "::ffff:8.8.8.8"]


def policy(allowed: list[str] = (), denied: list[str] = ()) -> Policy:
    return Policy.from_settings(Settings(callback_allowed=list(allowed), callback_denied=list(denied)))


@pytest.mark.parametrize("ip,what", REFUSED_BY_DEFAULT.items())
def test_special_ranges_are_refused_by_default(ip, what):
    why = policy().refusal(ipaddress.ip_address(ip))
    assert why and what in why and "callbacks.allowed" in why


@pytest.mark.parametrize("ip", PUBLIC)
def test_public_addresses_are_allowed_by_default(ip):
    assert policy().refusal(ipaddress.ip_address(ip)) is None


def test_an_allowed_cidr_lets_only_its_addresses_through():
    p = policy(allowed=["10.20.0.0/16", "127.0.0.0/8", "fd00:1::/32"])
    for ip in ("10.20.3.4", "127.0.0.1", "::ffff:127.0.0.1", "fd00:1::5"):
        assert p.refusal(ipaddress.ip_address(ip)) is None, ip
    for ip in ("10.21.0.1", "169.254.169.254", "::1", "fd00:2::5"):
        assert p.refusal(ipaddress.ip_address(ip)) is not None, ip


def test_denied_cidrs_are_refused_even_when_public_or_allowed():
    p = policy(allowed=["10.0.0.0/8"], denied=["203.0.113.0/24", "10.0.5.0/24", "2001:db8::/32"])
    for ip in ("203.0.113.7", "10.0.5.1", "2001:db8::1"):
        why = p.refusal(ipaddress.ip_address(ip))
        assert why and "callbacks.denied" in why, ip
    assert p.refusal(ipaddress.ip_address("10.0.6.1")) is None


def test_the_message_names_the_address_and_the_rule():
    with pytest.raises(CallbackError) as caught:
        policy().check("127.0.0.1", resolved=True)
    err = caught.value
    assert err.final and err.reason == "DestinationRefused"
    assert err.message == ("callbackUrl host resolves to 127.0.0.1, a loopback address; the operator's "
                           "callback policy (callbacks.allowed) does not allow it")
    with pytest.raises(CallbackError, match=r"callbackUrl host is 169\.254\.169\.254, a link-local"):
        policy().check("169.254.169.254", resolved=False)


def test_a_malformed_cidr_fails_at_start():
    with pytest.raises(ValueError):
        policy(allowed=["10.0.0.0/33"])


def resolve(p: Policy, addresses: list[str]) -> list[dict]:
    return asyncio.run(PolicyResolver(p, Names(addresses)).resolve("callback.example", 443))


def test_a_name_with_every_address_public_resolves():
    found = resolve(policy(), ["93.184.216.34", "2606:2800:220:1::1"])
    assert [r["host"] for r in found] == ["93.184.216.34", "2606:2800:220:1::1"]


@pytest.mark.parametrize("addresses", [["93.184.216.34", "10.96.0.10"], ["2606:2800:220:1::1", "fd00::1"],
                                       ["127.0.0.1"], ["8.8.8.8", "::1"]])
def test_a_name_with_any_refused_address_is_refused(addresses):
    with pytest.raises(CallbackError, match="callbackUrl host resolves to") as caught:
        resolve(policy(), addresses)
    assert caught.value.reason == "DestinationRefused"


def test_an_allowed_private_address_resolves():
    assert resolve(policy(allowed=["10.20.0.0/16"]), ["10.20.1.1"])[0]["host"] == "10.20.1.1"


def test_destinations_are_scheme_host_and_port():
    assert destination("https://Example.com/x?y") == "https://example.com:443"
    assert destination("http://example.com/a") == destination("http://example.com:80/b")
    assert destination("http://example.com:8080/") != destination("http://example.com/")
    assert destination("http://[::1]:9/") == "http://::1:9"
