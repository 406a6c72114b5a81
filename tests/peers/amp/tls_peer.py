"""Twisted AMP peers for the StartTLS interop tests (needs twisted[tls]).

Usage:
  python tls_peer.py server PORT CERT_PEM KEY_PEM [CLIENT_CA_PEM]
      answers StartTLS with this certificate; with CLIENT_CA_PEM, requires a
      client certificate signed by it (mutual TLS)
  python tls_peer.py client PORT CA_PEM [CERT_PEM KEY_PEM]
      StartTLS (verifying CA_PEM, presenting CERT_PEM when given), then Sum
"""
import sys

from twisted.internet import defer, protocol, reactor, ssl, task
from twisted.internet.interfaces import ISSLTransport
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.protocols import amp

from commands import Sum


def read(path):
    with open(path, "rb") as f:
        return f.read()


class TLSServer(amp.AMP):
    certificate = None
    client_authorities = None

    @amp.StartTLS.responder
    def start_tls(self, **_local):
        answer = {"tls_localCertificate": self.certificate}
        if self.client_authorities:
            answer["tls_verifyAuthorities"] = self.client_authorities
        return answer

    @Sum.responder
    def sum(self, a, b):
        return {"total": a + b}


def serve(port, cert, key, client_ca=None):
    TLSServer.certificate = ssl.PrivateCertificate.loadPEM(read(cert) + read(key))
    if client_ca:
        TLSServer.client_authorities = [ssl.Certificate.loadPEM(read(client_ca))]
    listening = reactor.listenTCP(port, protocol.Factory.forProtocol(TLSServer), interface="127.0.0.1")
    print("AMP TLS server on 127.0.0.1:%d" % listening.getHost().port, flush=True)
    reactor.run()


async def client(reactor, port, ca, cert=None, key=None):
    p = await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), amp.AMP())
    authority = ssl.Certificate.loadPEM(read(ca))
    tls = {"tls_verifyAuthorities": [authority]}
    if cert:
        tls["tls_localCertificate"] = ssl.PrivateCertificate.loadPEM(read(cert) + read(key))
    await p.callRemote(amp.StartTLS, **tls)
    r = await p.callRemote(Sum, a=20, b=22)
    ok = r["total"] == 42 and ISSLTransport.providedBy(p.transport)
    print(("PASS" if ok else "FAIL") + " sum inside StartTLS", flush=True)
    if not ok:
        raise SystemExit(1)


if sys.argv[1] == "server":
    serve(int(sys.argv[2]), *sys.argv[3:6])
else:
    task.react(lambda r: defer.ensureDeferred(client(r, int(sys.argv[2]), *sys.argv[3:6])))
