"""Literal transcription of the CSP3 editor's draft connect-src decision (w3c/webappsec-csp index.bs
@3e24aea3421b225f890a5c1f8a415354b6730b32, 2026-04-19) for the probes in cases.py.
Returns 'allowed' / 'blocked' for the enforce decision only (report-only policies never block)."""
import re
import urllib.parse

DEFAULT_PORT = {"http": 80, "https": 443, "ws": 80, "wss": 443}
ASCII_WS = "\t\n\x0c\r "

SCHEME = r"[A-Za-z][A-Za-z0-9+\-.]*"
HOST_PART = r"(?:\*|(?:\*\.)?[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.?)"
PORT_PART = r"(?:[0-9]+|\*)"
# path-absolute (RFC3986) without ";" or ","
PCHAR = r"(?:[A-Za-z0-9\-._~!$&'()*+=:@]|%[0-9A-Fa-f]{2})"
PATH_ABS = r"/(?:%s+(?:/%s*)*)?" % (PCHAR, PCHAR)
HOST_SOURCE = re.compile(r"^(?:(%s)://)?(%s)(?::(%s))?(%s)?$" % (SCHEME, HOST_PART, PORT_PART, PATH_ABS))
SCHEME_SOURCE = re.compile(r"^(%s):$" % SCHEME)


def isomorphic_decode(b):
    return b.decode("latin-1")


def split_header_list(values):
    # "extracting header list values": combine same-name headers with ", " then split on commas
    # (no quoted-string handling needed for our inputs)
    combined = ", ".join(values)
    return [t.strip(" \t") for t in combined.split(",")]


def parse_policy(serialized):
    directives = {}
    for token in serialized.split(";"):
        token = token.strip(ASCII_WS)
        if not token or any(ord(c) > 0x7F for c in token):
            continue
        i = 0
        while i < len(token) and token[i] not in ASCII_WS:
            i += 1
        name = token[:i].lower()
        if name in directives:
            continue
        value = [t for t in re.split("[%s]+" % re.escape(ASCII_WS), token) if t][1:]
        directives[name] = value
    return directives


def parse_url(u):
    s = urllib.parse.urlsplit(u)
    scheme = s.scheme.lower()
    host = s.hostname
    port = s.port
    if port == DEFAULT_PORT.get(scheme):
        port = None
    return scheme, host, port, s.path or "/"


def is_domain(host):
    return not re.fullmatch(r"[0-9.]+", host) and not host.startswith("[")


def scheme_part_match(a, b):
    a, b = a.lower(), b.lower()
    return (a == b or (a == "http" and b == "https") or (a == "ws" and b in ("wss", "http", "https"))
            or (a == "wss" and b == "https"))


def host_part_match(pattern, host):
    if not is_domain(host):
        return False
    if pattern == "*":
        return True
    if pattern.startswith("*."):
        return host.lower().endswith(pattern[1:].lower())
    return pattern.lower() == host.lower()


def port_part_match(inp, scheme, port):
    if inp == "*":
        return True
    n = None if inp is None else int(inp)
    if n == port:
        return True
    if port is None and n == DEFAULT_PORT.get(scheme):
        return True
    return False


def path_part_match(a, b):
    if a == "":
        return True
    if a == "/" and b == "":
        return True
    exact = not a.endswith("/")
    la, lb = a.split("/"), b.split("/")
    if len(la) > len(lb):
        return False
    if exact and len(la) != len(lb):
        return False
    if not exact:
        la = la[:-1]
    for pa, pb in zip(la, lb):
        if urllib.parse.unquote(pa) != urllib.parse.unquote(pb):
            return False
    return True


def expr_match(url, expr, origin):
    scheme, host, port, path = url
    oscheme, ohost, oport = origin
    if expr == "*":
        return scheme in ("http", "https") or scheme == oscheme
    m_sch = SCHEME_SOURCE.match(expr)
    m_host = HOST_SOURCE.match(expr)
    if m_sch:
        return scheme_part_match(m_sch.group(1), scheme)
    if m_host:
        e_scheme, e_host, e_port, e_path = m_host.groups()
        if e_scheme and not scheme_part_match(e_scheme, scheme):
            return False
        if host is None:
            return False
        if not e_scheme and not scheme_part_match(oscheme, scheme):
            return False
        if not host_part_match(e_host, host):
            return False
        if not port_part_match(e_port, scheme, port):
            return False
        if e_path:
            if not path_part_match(e_path, path):
                return False
        return True
    if expr.lower() == "'self'":
        if (oscheme, ohost, oport) == (scheme, host, port):
            return True
        if ohost == host and (oport == port or (oport is None and port is None)):
            if scheme in ("https", "wss") or (oscheme == "http" and scheme in ("http", "ws")):
                return True
        return False
    return False


def list_match(url, sources, origin):
    if not sources:
        return False
    if len(sources) == 1 and sources[0].lower() == "'none'":
        return False
    return any(expr_match(url, e, origin) for e in sources)


def decide(probe):
    """probe: dict from cases.PROBES (policy values are bytes). Returns 'allowed' or 'blocked'."""
    enforce = [isomorphic_decode(v) for h, v in probe["policy"] if h.lower() == "content-security-policy"]
    if not enforce:
        return "allowed"
    o = parse_url(probe["page"] + "/")
    origin = (o[0], o[1], o[2])
    url = parse_url(probe["target"])
    for serialized in split_header_list(enforce):
        d = parse_policy(serialized)
        if not d:
            continue
        srcs = d.get("connect-src", d.get("default-src"))
        if srcs is None:
            continue
        if not list_match(url, srcs, origin):
            return "blocked"
    return "allowed"


if __name__ == "__main__":
    import sys, os
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import cases
    for p in cases.PROBES:
        if p["api"] != "typeof":
            print(p["pid"], decide(p), p["target"], p["policy"])
