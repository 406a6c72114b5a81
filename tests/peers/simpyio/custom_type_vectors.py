"""Prints vectors (tsv: name, description, hex) of simpy.io messages carrying
application custom types, encoded by simpy.io's own codec.JSON with the type
layout simpy.io.json.JSON builds: the class's `types` then Proxy, the class's
`converters` then the exposed-object converter.

Usage: python custom_type_vectors.py > tests/vectors/simpyio/custom_types.tsv
"""
import struct

from simpy.io import codec
from simpy.io.broker import Proxy


class Point(object):
    def __init__(self, x, y):
        self.x, self.y = x, y


class Celsius(float):
    pass


class App(object):
    """Stands in for a simpy.io.json.JSON subclass declaring types/converters."""

    types = ((Point, lambda p: [p.x, p.y], lambda d: Point(*d)),)
    converters = ((lambda o: o.degrees if isinstance(o, Thermo) else None,
                   lambda d: d),)

    def __init__(self):
        self.proxies = {}
        self.codec = codec.JSON(
            self.types + ((Proxy, lambda p: p._path, lambda d: d),),
            self.converters + ((lambda o: "math" if o is MATH else None,
                                lambda d: d),))


class Thermo(object):
    def __init__(self, degrees):
        self.degrees = degrees


MATH = object()


def frame(app, msg):
    payload = app.codec.encode(msg).encode("utf-8")
    return (struct.pack(">I", len(payload)) + payload).hex()


app = App()
proxy = Proxy(app, "math")
rows = [
    ("custom_request_point_and_proxy",
     "types=(Point,), converters=(thermo,): request [0, 0, [\"plot\", [Point(1, 2.5), proxy 'math'], {}]]; Point is id 0, proxy id 1",
     (0, 0, ["plot", [Point(1, 2.5), proxy], {}])),
    ("custom_success_converter_and_exposed",
     "same layout: success [1, 0, [thermo(21.5), exposed 'math']]; the app converter is id 2, the exposed object id 3",
     (1, 0, [Thermo(21.5), MATH])),
]
print("name\tdescription\thex")
for name, desc, msg in rows:
    print("%s\t%s\t%s" % (name, desc, frame(app, msg)))
