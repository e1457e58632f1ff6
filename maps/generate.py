#!/usr/bin/env python3
"""Generates the Borderlane lane maps of the Bac Luan II crossing.

The lane is laid out in local metres (x east, y north of an origin at the
Vietnamese foot of the Bac Luan II bridge) and converted to WGS84 longitude
and latitude with the inverse of the orchestrator's local frame, so that the
orchestrator projects it back to the same metres. The geometry is approximate:
it keeps the published figures (a 618 m bridge with the border 154.5 m from
the Vietnamese end, about 3.2 km from yard to yard) but not the real shape of
the roads.

Run it from anywhere with Python 3 and no packages:

    python3 maps/generate.py

It writes bac_luan_ii.geojson, bac_luan_ii_single_lane.geojson and
bac_luan_ii_large_yards.geojson next to itself. The output is deterministic:
coordinates are rounded to 7 decimals and features are written in a fixed
order (nodes, then edges, then zones).
"""

import json
import math
import os

# The origin of the local frame, near the Vietnamese end of the bridge over
# the Ka Long (Beilun) river between Hai Hoa ward, Mong Cai and Dongxing.
LON0 = 107.9600
LAT0 = 21.5420

# The same mean Earth radius and projection as LocalFrame in
# orchestrator/model/src/map/frame.rs.
EARTH_RADIUS_M = 6_371_008.8
K = EARTH_RADIUS_M * math.pi / 180.0

# Speed limits in km/h.
ROAD_KMH = 25
YARD_KMH = 15
SPUR_KMH = 10
BRIDGE_KMH = 15
SCAN_KMH = 8

# The bridge: 618 m in all, of which Vietnam built the first 154.5 m.
BRIDGE_M = 618.0
BORDER_FROM_VN_M = 154.5

# The northbound (VN -> CN) lanes run at x = +4 m, the southbound at x = -4 m:
# traffic keeps to the right on both banks.
NB_X = 4.0
SB_X = -4.0

# The Vietnamese yard's aisle loop has its gate side at this y; the Chinese
# yard's at CN_YARD_Y.
VN_YARD_Y = -2346.0
CN_YARD_Y = 920.0


def to_wgs84(x, y):
    """Local metres to [lon, lat], rounded to 7 decimals (about 1 cm)."""
    lon = LON0 + x / (K * math.cos(math.radians(LAT0)))
    lat = LAT0 + y / K
    return [round(lon, 7), round(lat, 7)]


class Map:
    """Collects nodes, edges and zones in local metres."""

    def __init__(self, name):
        self.name = name
        self.nodes = []  # (id, kind, side, (x, y))
        self.pos = {}
        self.edges = []  # (id, kind, from, to, direction, kmh, length_m, points)
        self.zones = []  # (id, kind, side, capacity, members, ring)

    def node(self, nid, kind, side, x, y):
        assert nid not in self.pos, nid
        self.nodes.append((nid, kind, side, (x, y)))
        self.pos[nid] = (x, y)
        return nid

    def edge(self, kind, a, b, kmh, direction="one_way", via=(), length_m=None):
        """An edge from node a to node b, drawn through the `via` points."""
        points = [self.pos[a]] + list(via) + [self.pos[b]]
        eid = f"{a}-{b}"
        self.edges.append((eid, kind, a, b, direction, kmh, length_m, points))
        return eid

    def road(self, *ids, kmh=ROAD_KMH):
        """One-way road edges along a chain of nodes."""
        for a, b in zip(ids, ids[1:]):
            self.edge("road", a, b, kmh)

    def spur(self, a, leaf):
        self.edge("spur", a, leaf, SPUR_KMH, direction="bidirectional")

    def zone(self, zid, kind, side, capacity, members, margin=8.0, box=None):
        if box is None:
            xs = [self.pos[m][0] for m in members]
            ys = [self.pos[m][1] for m in members]
            box = (min(xs) - margin, min(ys) - margin, max(xs) + margin, max(ys) + margin)
        x0, y0, x1, y1 = box
        # Counter-clockwise, closed, as RFC 7946 asks of exterior rings.
        ring = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
        self.zones.append((zid, kind, side, capacity, list(members), ring))

    def to_geojson(self):
        features = []
        for nid, kind, side, (x, y) in self.nodes:
            features.append({
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": to_wgs84(x, y)},
                "properties": {"id": nid, "kind": kind, "side": side},
            })
        for eid, kind, a, b, direction, kmh, length_m, points in self.edges:
            props = {
                "id": eid,
                "kind": kind,
                "from": a,
                "to": b,
                "direction": direction,
                "speed_kmh": kmh,
            }
            if length_m is not None:
                props["length_m"] = length_m
            features.append({
                "type": "Feature",
                "geometry": {
                    "type": "LineString",
                    "coordinates": [to_wgs84(x, y) for x, y in points],
                },
                "properties": props,
            })
        for zid, kind, side, capacity, members, ring in self.zones:
            features.append({
                "type": "Feature",
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[to_wgs84(x, y) for x, y in ring]],
                },
                "properties": {
                    "id": zid,
                    "kind": kind,
                    "side": side,
                    "capacity": capacity,
                    "members": members,
                },
            })
        return {
            "type": "FeatureCollection",
            "name": self.name,
            "origin": [LON0, LAT0],
            "features": features,
        }


def yard(m, side, cy, flip):
    """A yard with a one-way aisle loop and places on dead-end spurs.

    The yard is drawn in yard coordinates (u along the gate side, v towards
    the gates) and placed with its gate side at y = cy; `flip` turns it half
    round so that a Chinese yard faces south towards the bridge. Returns the
    ids of its gate-out and gate-in nodes.
    """

    def at(u, v):
        return (-u, cy - v) if flip else (u, cy + v)

    p = side + "_"
    loop = []

    def aisle(name, u, v):
        nid = m.node(p + "Y_" + name, "waypoint", side, *at(u, v))
        loop.append(nid)
        return nid

    slots, parking, chargers = [], [], []
    aisle("JIN", -30, 0)
    # A buffer row of parking places along the top aisle, west half.
    for k, u in enumerate(range(-40, -111, -10)):
        t = aisle(f"TW{k + 1}", u, 0)
        parking.append(m.node(f"{p}PARK_W{k + 1}", "parking", side, *at(u, 25)))
        m.spur(t, parking[-1])
    aisle("NW", -120, 0)
    for i, v in enumerate((-25, -45, -65), start=1):
        w = aisle(f"W{i}", -120, v)
        chargers.append(m.node(f"{p}CHG_{i}", "charger", side, *at(-145, v)))
        m.spur(w, chargers[-1])
    aisle("SW", -120, -90)
    for i, u in enumerate(range(-90, 91, 20), start=1):
        b = aisle(f"B{i:02}", u, -90)
        slots.append(m.node(f"{p}SLOT_{i:02}", "yard_slot", side, *at(u, -115)))
        m.spur(b, slots[-1])
        # A parking place opposite each slot, across the aisle.
        parking.append(m.node(f"{p}PARK_{i:02}", "parking", side, *at(u, -65)))
        m.spur(b, parking[-1])
    aisle("SE", 120, -90)
    # A column of parking places along the east aisle.
    for k, v in enumerate((-75, -60, -45, -30, -15)):
        t = aisle(f"E{k + 1}", 120, v)
        parking.append(m.node(f"{p}PARK_E{k + 1}", "parking", side, *at(145, v)))
        m.spur(t, parking[-1])
    aisle("NE", 120, 0)
    # And the east half of the top row.
    for k, u in enumerate(range(110, 39, -10)):
        t = aisle(f"TE{k + 1}", u, 0)
        parking.append(m.node(f"{p}PARK_T{k + 1}", "parking", side, *at(u, 25)))
        m.spur(t, parking[-1])
    aisle("JOUT", 30, 0)
    # The aisle loop, one way, closing from the exit junction to the entry.
    for a, b in zip(loop, loop[1:] + loop[:1]):
        m.edge("yard", a, b, YARD_KMH)
    gate_out = m.node(p + "GATE_OUT", "gate", side, *at(30, 40))
    gate_in = m.node(p + "GATE_IN", "gate", side, *at(-30, 40))
    m.edge("yard", p + "Y_JOUT", gate_out, YARD_KMH)
    m.edge("yard", gate_in, p + "Y_JIN", YARD_KMH)

    places = slots + parking + chargers
    x0, y0 = at(-155, -125)
    x1, y1 = at(155, 32)
    box = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
    m.zone(p + "YARD", "yard", side, len(places), loop + places, box=box)
    m.zone(p + "PARKING", "parking", side, len(parking), parking)
    m.zone(p + "CHARGERS", "chargers", side, len(chargers), chargers)
    return gate_out, gate_in


def large_yard(m, side, cy, flip, aisles=4, depth=12):
    """A yard for capacity studies: parallel aisles instead of one loop.

    Every node of the shipped yard's one loop is passed by every vehicle
    that enters the yard, and again by each one turning into and out of a
    spur there, so with a 12 s headway per node that loop carries far less
    than the bridge lane does. Here a feeder from the gate in hands each
    vehicle to one of `aisles` U-shaped aisles, so each aisle carries only
    its share. An aisle runs down past `depth` yard slots (west) and as
    many parking places (east, inside the U), turns, and runs up past
    `depth` places on its outer side (3 chargers, then parking). From the
    top of its up leg a vehicle can go round its own aisle again or on to
    the next aisle; from the bottom of its down leg it leaves along a
    collector under the aisles and up the east side to the gate out. No
    two edges cross. Returns the ids of its gate-out and gate-in nodes.
    """

    def at(u, v):
        return (-u, cy - v) if flip else (u, cy + v)

    p = side + "_"
    members, slots, parking, chargers = [], [], [], []

    def aisle(name, u, v):
        nid = m.node(p + "Y_" + name, "waypoint", side, *at(u, v))
        members.append(nid)
        return nid

    def yard_edge(a, b):
        m.edge("yard", a, b, YARD_KMH)

    bottom = -10 - 20 * (depth + 1)
    lane_v = bottom - 30
    us = [-270 + 150 * a for a in range(aisles)]
    gate_in = m.node(p + "GATE_IN", "gate", side, *at(-330, 60))
    gate_out = m.node(p + "GATE_OUT", "gate", side, *at(us[-1] + 120, 60))
    feeders = [aisle(f"F{a + 1}", u, 20) for a, u in enumerate(us)]
    yard_edge(gate_in, feeders[0])
    for a, b in zip(feeders, feeders[1:]):
        yard_edge(a, b)
    tops, ends, lows = [], [], []
    for a, u in enumerate(us):
        k = a + 1
        top = aisle(f"A{k}_S", u, -10)
        yard_edge(feeders[a], top)
        prev = top
        for i in range(1, depth + 1):
            d = aisle(f"A{k}_D{i:02}", u, -10 - 20 * i)
            yard_edge(prev, d)
            slots.append(m.node(f"{p}SLOT_{len(slots) + 1:02}", "yard_slot", side,
                                *at(u - 25, -10 - 20 * i)))
            m.spur(d, slots[-1])
            parking.append(m.node(f"{p}PARK_{len(parking) + 1:03}", "parking", side,
                                  *at(u + 25, -10 - 20 * i)))
            m.spur(d, parking[-1])
            prev = d
        turn = aisle(f"A{k}_T", u, bottom)
        yard_edge(prev, turn)
        prev = turn
        for i in range(depth, 0, -1):
            up = aisle(f"A{k}_U{i:02}", u + 60, -10 - 20 * i)
            yard_edge(prev, up)
            if i > depth - 3:
                chargers.append(m.node(f"{p}CHG_{len(chargers) + 1:02}", "charger", side,
                                       *at(u + 85, -10 - 20 * i)))
                m.spur(up, chargers[-1])
            else:
                parking.append(m.node(f"{p}PARK_{len(parking) + 1:03}", "parking", side,
                                      *at(u + 85, -10 - 20 * i)))
                m.spur(up, parking[-1])
            prev = up
        end = aisle(f"A{k}_E", u + 60, -10)
        yard_edge(prev, end)
        yard_edge(end, top)
        low = aisle(f"A{k}_L", u, lane_v)
        yard_edge(turn, low)
        tops.append(top)
        ends.append(end)
        lows.append(low)
    for a in range(aisles - 1):
        yard_edge(ends[a], tops[a + 1])
    for a, b in zip(lows, lows[1:]):
        yard_edge(a, b)
    east_u = us[-1] + 120
    col = [aisle("X_LOW", east_u, lane_v), aisle("X_MID", east_u, (lane_v + 20) / 2),
           aisle("X_TOP", east_u, 20)]
    yard_edge(lows[-1], col[0])
    for a, b in zip(col, col[1:]):
        yard_edge(a, b)
    yard_edge(col[-1], gate_out)

    places = slots + parking + chargers
    xa, ya = at(us[0] - 40, lane_v - 10)
    xb, yb = at(east_u + 10, 30)
    box = (min(xa, xb), min(ya, yb), max(xa, xb), max(ya, yb))
    m.zone(p + "YARD", "yard", side, len(places), members + places, box=box)
    m.zone(p + "PARKING", "parking", side, len(parking), parking)
    m.zone(p + "CHARGERS", "chargers", side, len(chargers), chargers)
    return gate_out, gate_in


def scan_branch(m, a, scan, b, x, y_in, y_out):
    """A one-way scan-lane branch a -> scan -> b, drawn as a side loop at x."""
    m.edge("road", a, scan, SCAN_KMH, via=[(x, y_in)])
    m.edge("road", scan, b, SCAN_KMH, via=[(x, y_out)])


def build(single_lane, large_yards=False):
    name = "Bac Luan II lane, Mong Cai (VN) - Dongxing (CN)"
    if single_lane:
        name += ", single-lane VN access stretch"
    if large_yards:
        name += ", large yards for capacity studies"
    m = Map(name)

    # The yards.
    make_yard = large_yard if large_yards else yard
    vn_gate_out, vn_gate_in = make_yard(m, "VN", VN_YARD_Y, flip=False)
    cn_gate_out, cn_gate_in = make_yard(m, "CN", CN_YARD_Y, flip=True)

    # The Vietnamese outbound road (northbound), with the export customs area
    # and the stop-line queue before the bridge.
    def n(nid, kind, x, y):
        return m.node(nid, kind, "VN", x, y)

    n("VN_OUT_01", "waypoint", NB_X, -2240)
    n("VN_OUT_02", "waypoint", NB_X, -2000)
    if single_lane:
        # The two carriageways merge into one single-lane stretch of 400 m.
        n("VN_NARROW_S", "waypoint", 0.0, -1800)
        n("VN_NARROW_N", "waypoint", 0.0, -1400)
        nb_s, nb_n = "VN_NARROW_S", "VN_NARROW_N"
    else:
        n("VN_OUT_03", "waypoint", NB_X, -1800)
        n("VN_OUT_04", "waypoint", NB_X, -1400)
        nb_s, nb_n = "VN_OUT_03", "VN_OUT_04"
    n("VN_OUT_05", "waypoint", NB_X, -1100)
    n("VN_OUT_06", "waypoint", NB_X, -850)
    n("VN_CX_A", "waypoint", NB_X, -700)
    n("VN_SCAN_1", "scan_lane", 18, -650)
    n("VN_SCAN_2", "scan_lane", 30, -650)
    n("VN_CX_B", "waypoint", NB_X, -600)
    n("VN_CX_C", "waypoint", NB_X, -560)
    n("VN_INSPECT_1", "inspection_bay", 34, -560)
    n("VN_CX_D", "waypoint", NB_X, -530)
    n("VN_INSPECT_2", "inspection_bay", 34, -530)
    n("VN_OUT_07", "waypoint", NB_X, -300)
    n("VN_Q2", "waypoint", NB_X, -80)
    n("VN_Q1", "waypoint", NB_X, -55)
    n("VN_STOP_NB", "stop_line", NB_X, -30)
    n("VN_BRIDGE_END_NB", "bridge_end", NB_X, 0)

    # The Vietnamese inbound road (southbound), with the arrival customs area.
    n("VN_BRIDGE_END_SB", "bridge_end", SB_X, 0)
    n("VN_IN_01", "waypoint", SB_X, -300)
    n("VN_AX_A", "waypoint", SB_X, -500)
    n("VN_SCAN_ARR", "scan_lane", -18, -550)
    n("VN_AX_B", "waypoint", SB_X, -600)
    n("VN_AX_C", "waypoint", SB_X, -640)
    n("VN_INSPECT_ARR", "inspection_bay", -34, -640)
    n("VN_IN_02", "waypoint", SB_X, -850)
    n("VN_IN_03", "waypoint", SB_X, -1100)
    if single_lane:
        sb_n, sb_s = "VN_NARROW_N", "VN_NARROW_S"
    else:
        n("VN_IN_04", "waypoint", SB_X, -1400)
        n("VN_IN_05", "waypoint", SB_X, -1800)
        sb_n, sb_s = "VN_IN_04", "VN_IN_05"
    n("VN_IN_06", "waypoint", SB_X, -2000)
    n("VN_IN_07", "waypoint", SB_X, -2240)

    # The bridge: border nodes have no side.
    m.node("BORDER_NB", "border", None, NB_X, BORDER_FROM_VN_M)
    m.node("BORDER_SB", "border", None, SB_X, BORDER_FROM_VN_M)

    # The Chinese inbound road (northbound), with the arrival customs area.
    def c(nid, kind, x, y):
        return m.node(nid, kind, "CN", x, y)

    c("CN_BRIDGE_END_NB", "bridge_end", NB_X, BRIDGE_M)
    c("CN_AX_A", "waypoint", NB_X, 650)
    c("CN_SCAN_ARR", "scan_lane", 18, 690)
    c("CN_AX_B", "waypoint", NB_X, 730)
    c("CN_AX_C", "waypoint", NB_X, 760)
    c("CN_INSPECT_ARR", "inspection_bay", 34, 760)
    c("CN_IN_01", "waypoint", NB_X, 840)

    # The Chinese outbound road (southbound), with the export customs area and
    # the stop-line queue before the bridge.
    c("CN_CX_A", "waypoint", SB_X, 845)
    c("CN_SCAN_1", "scan_lane", -18, 815)
    c("CN_SCAN_2", "scan_lane", -30, 815)
    c("CN_CX_B", "waypoint", SB_X, 785)
    c("CN_CX_C", "waypoint", SB_X, 760)
    c("CN_INSPECT_1", "inspection_bay", -34, 760)
    c("CN_CX_D", "waypoint", SB_X, 735)
    c("CN_INSPECT_2", "inspection_bay", -34, 735)
    c("CN_Q2", "waypoint", SB_X, 698)
    c("CN_Q1", "waypoint", SB_X, 673)
    c("CN_STOP_SB", "stop_line", SB_X, 648)
    c("CN_BRIDGE_END_SB", "bridge_end", SB_X, BRIDGE_M)

    # Edges, northbound: VN yard to CN yard.
    m.road(vn_gate_out, "VN_OUT_01", "VN_OUT_02", nb_s)
    if single_lane:
        m.edge("road", nb_s, nb_n, ROAD_KMH, direction="bidirectional")
    else:
        m.road(nb_s, nb_n)
    m.road(nb_n, "VN_OUT_05", "VN_OUT_06", "VN_CX_A", "VN_CX_B")
    scan_branch(m, "VN_CX_A", "VN_SCAN_1", "VN_CX_B", 18, -680, -620)
    scan_branch(m, "VN_CX_A", "VN_SCAN_2", "VN_CX_B", 30, -685, -615)
    m.road("VN_CX_B", "VN_CX_C", "VN_CX_D", "VN_OUT_07", "VN_Q2", "VN_Q1", "VN_STOP_NB",
           "VN_BRIDGE_END_NB")
    m.spur("VN_CX_C", "VN_INSPECT_1")
    m.spur("VN_CX_D", "VN_INSPECT_2")
    m.edge("bridge", "VN_BRIDGE_END_NB", "BORDER_NB", BRIDGE_KMH, length_m=BORDER_FROM_VN_M)
    m.edge("bridge", "BORDER_NB", "CN_BRIDGE_END_NB", BRIDGE_KMH,
           length_m=BRIDGE_M - BORDER_FROM_VN_M)
    m.road("CN_BRIDGE_END_NB", "CN_AX_A", "CN_AX_B", "CN_AX_C", "CN_IN_01", cn_gate_in)
    scan_branch(m, "CN_AX_A", "CN_SCAN_ARR", "CN_AX_B", 18, 670, 710)
    m.spur("CN_AX_C", "CN_INSPECT_ARR")

    # Edges, southbound: CN yard to VN yard.
    m.road(cn_gate_out, "CN_CX_A", "CN_CX_B")
    scan_branch(m, "CN_CX_A", "CN_SCAN_1", "CN_CX_B", -18, 830, 800)
    scan_branch(m, "CN_CX_A", "CN_SCAN_2", "CN_CX_B", -30, 832, 798)
    m.road("CN_CX_B", "CN_CX_C", "CN_CX_D", "CN_Q2", "CN_Q1", "CN_STOP_SB", "CN_BRIDGE_END_SB")
    m.spur("CN_CX_C", "CN_INSPECT_1")
    m.spur("CN_CX_D", "CN_INSPECT_2")
    m.edge("bridge", "CN_BRIDGE_END_SB", "BORDER_SB", BRIDGE_KMH,
           length_m=BRIDGE_M - BORDER_FROM_VN_M)
    m.edge("bridge", "BORDER_SB", "VN_BRIDGE_END_SB", BRIDGE_KMH, length_m=BORDER_FROM_VN_M)
    m.road("VN_BRIDGE_END_SB", "VN_IN_01", "VN_AX_A", "VN_AX_B", "VN_AX_C", "VN_IN_02",
           "VN_IN_03", sb_n)
    if not single_lane:
        m.road(sb_n, sb_s)
    m.road(sb_s, "VN_IN_06", "VN_IN_07", vn_gate_in)
    scan_branch(m, "VN_AX_A", "VN_SCAN_ARR", "VN_AX_B", -18, -520, -580)
    m.spur("VN_AX_C", "VN_INSPECT_ARR")

    # Customs and queue zones.
    m.zone("VN_SCAN_OUT", "scan_lanes", "VN", 2, ["VN_SCAN_1", "VN_SCAN_2"])
    m.zone("VN_INSPECT_OUT", "inspection_bays", "VN", 2, ["VN_INSPECT_1", "VN_INSPECT_2"])
    m.zone("VN_QUEUE", "stop_line_queue", "VN", 3, ["VN_Q2", "VN_Q1", "VN_STOP_NB"], margin=6.0)
    m.zone("VN_SCAN_IN", "scan_lanes", "VN", 1, ["VN_SCAN_ARR"])
    m.zone("VN_INSPECT_IN", "inspection_bays", "VN", 1, ["VN_INSPECT_ARR"])
    m.zone("CN_SCAN_OUT", "scan_lanes", "CN", 2, ["CN_SCAN_1", "CN_SCAN_2"])
    m.zone("CN_INSPECT_OUT", "inspection_bays", "CN", 2, ["CN_INSPECT_1", "CN_INSPECT_2"])
    m.zone("CN_QUEUE", "stop_line_queue", "CN", 3, ["CN_Q2", "CN_Q1", "CN_STOP_SB"], margin=6.0)
    m.zone("CN_SCAN_IN", "scan_lanes", "CN", 1, ["CN_SCAN_ARR"])
    m.zone("CN_INSPECT_IN", "inspection_bays", "CN", 1, ["CN_INSPECT_ARR"])
    return m


def write(path, m):
    doc = m.to_geojson()
    features = doc.pop("features")
    head = json.dumps(doc, ensure_ascii=False)[:-1]
    lines = [json.dumps(f, ensure_ascii=False) for f in features]
    text = head + ', "features": [\n' + ",\n".join(lines) + "\n]}\n"
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        out.write(text)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    write(os.path.join(here, "bac_luan_ii.geojson"), build(single_lane=False))
    write(os.path.join(here, "bac_luan_ii_single_lane.geojson"), build(single_lane=True))
    write(os.path.join(here, "bac_luan_ii_large_yards.geojson"),
          build(single_lane=False, large_yards=True))


if __name__ == "__main__":
    main()
