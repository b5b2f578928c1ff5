// The DAG's layout: ELK's layered algorithm, run in a Web Worker so a large graph never
// blocks the page. This module is imported lazily (only the graph page needs it), and ELK
// itself (~1.5 MB) loads only in the worker.
import ELK from "elkjs/lib/elk-api.js";
import workerUrl from "elkjs/lib/elk-worker.min.js?url";

export interface GraphInput {
  nodes: { name: string }[];
  edges: { source: string; target: string }[];
}

export interface PlacedNode {
  name: string;
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface PlacedEdge {
  source: string;
  target: string;
  path: string;
}

export interface Layout {
  nodes: PlacedNode[];
  edges: PlacedEdge[];
  width: number;
  height: number;
}

export const NODE_HEIGHT = 34;

/** How wide a node's box is for its name (a monospace-ish estimate; no DOM needed). */
export function nodeWidth(name: string): number {
  return Math.min(Math.max(90, 30 + Math.min(name.length, 40) * 7.7), 340);
}

let elk: InstanceType<typeof ELK> | null = null;

/** Graphs larger than this get ELK's cheap settings (a 1,000-model graph lays out in about a
 * second instead of tens): layers by longest path, no crossing minimisation of ELK's own (the
 * nodes arrive pre-ordered by `presort`), simple node placement, straight segments. */
export const BIG = 300;

/** Names in layer order, each layer ordered by barycentre sweeps (few crossings, in
 * milliseconds): ELK keeps this order when it does not minimise crossings itself. */
export function presort(graph: GraphInput): string[] {
  const parents = new Map<string, string[]>(graph.nodes.map((n) => [n.name, []]));
  const children = new Map<string, string[]>(graph.nodes.map((n) => [n.name, []]));
  for (const edge of graph.edges) {
    parents.get(edge.target)?.push(edge.source);
    children.get(edge.source)?.push(edge.target);
  }
  const layerOf = new Map<string, number>();
  const depth = (name: string, seen: Set<string>): number => {
    const known = layerOf.get(name);
    if (known !== undefined) return known;
    if (seen.has(name)) return 0; // a cycle: break it here
    seen.add(name);
    const up = parents.get(name) ?? [];
    const value = up.length ? Math.max(...up.map((p) => depth(p, seen))) + 1 : 0;
    layerOf.set(name, value);
    return value;
  };
  const layers: string[][] = [];
  for (const node of graph.nodes) (layers[depth(node.name, new Set())] ??= []).push(node.name);
  const dense = layers.filter(Boolean);
  const pos = new Map<string, number>();
  const place = (layer: string[]) => layer.forEach((name, index) => pos.set(name, index));
  dense.forEach(place);
  const centre = (name: string, by: Map<string, string[]>): number => {
    const others = (by.get(name) ?? []).filter((o) => pos.has(o));
    return others.length
      ? others.reduce((sum, o) => sum + pos.get(o)!, 0) / others.length
      : pos.get(name)!;
  };
  for (let sweep = 0; sweep < 4; sweep++) {
    const down = sweep % 2 === 0;
    const order = down ? dense.slice(1) : dense.slice(0, -1).reverse();
    for (const layer of order) {
      const keys = new Map(layer.map((n) => [n, centre(n, down ? parents : children)]));
      layer.sort((a, b) => keys.get(a)! - keys.get(b)!);
      place(layer);
    }
  }
  return dense.flat();
}

/** Start the layout worker (loading ELK) before the graph's data arrives. */
export function warm(): void {
  elk ??= new ELK({ workerUrl });
}

export async function layout(graph: GraphInput): Promise<Layout> {
  warm();
  const big = graph.nodes.length > BIG;
  const options: Record<string, string> = {
    "elk.algorithm": "layered",
    "elk.direction": "RIGHT",
    "elk.edgeRouting": "ORTHOGONAL",
    "elk.layered.spacing.nodeNodeBetweenLayers": "56",
    "elk.spacing.nodeNode": "14",
    "elk.layered.considerModelOrder.strategy": "NODES_AND_EDGES",
  };
  if (big) {
    Object.assign(options, {
      "elk.edgeRouting": "POLYLINE",
      "elk.layered.considerModelOrder.strategy": "NONE",
      "elk.layered.layering.strategy": "LONGEST_PATH",
      "elk.layered.cycleBreaking.strategy": "DEPTH_FIRST",
      "elk.layered.crossingMinimization.strategy": "NONE",
      "elk.layered.crossingMinimization.greedySwitch.type": "OFF",
      "elk.layered.nodePlacement.strategy": "SIMPLE",
      "elk.layered.thoroughness": "1",
      "elk.separateConnectedComponents": "false",
      "elk.layered.mergeEdges": "true",
      "elk.layered.feedbackEdges": "false",
      "elk.layered.unnecessaryBendpoints": "false",
      "elk.layered.layering.nodePromotion.strategy": "NONE",
      "elk.layered.compaction.postCompaction.strategy": "NONE",
    });
  }
  const names = big ? presort(graph) : graph.nodes.map((n) => n.name);
  const result = await elk.layout({
    id: "root",
    layoutOptions: options,
    children: names.map((name) => ({ id: name, width: nodeWidth(name), height: NODE_HEIGHT })),
    edges: graph.edges.map((edge, index) => ({
      id: `e${index}`,
      sources: [edge.source],
      targets: [edge.target],
    })),
  });
  const nodes = (result.children ?? []).map((child) => ({
    name: child.id,
    x: child.x ?? 0,
    y: child.y ?? 0,
    width: child.width ?? 0,
    height: child.height ?? 0,
  }));
  const edges = (result.edges ?? []).map((edge, index) => {
    const section = edge.sections?.[0];
    let path = "";
    if (section) {
      const points = [section.startPoint, ...(section.bendPoints ?? []), section.endPoint];
      path = points.map((p, i) => `${i ? "L" : "M"}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join("");
    }
    return { source: graph.edges[index].source, target: graph.edges[index].target, path };
  });
  return { nodes, edges, width: result.width ?? 0, height: result.height ?? 0 };
}
