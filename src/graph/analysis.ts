import { asTraceGraph, type TensorRole, type TraceGraph, type TraceGraphLike } from './trace.js';

/*
 * Questions about a traced graph. The trace is a DAG of alternating tensor and op nodes, so its
 * topological generations alternate too. They are found by the walk graphology-dag's
 * topologicalGenerations makes, in its order (tested against it), on the trace itself: handing
 * 500,000 nodes and edges to graphology first would cost more than the walk.
 */

export interface GraphAnalysis {
  /** Every node key, inputs before what is computed from them. */
  readonly order: readonly string[];
  /** Op nodes in topological order, with their labels: BN's steps read top to bottom. */
  readonly steps: readonly { readonly key: string; readonly label: string; readonly op: string }[];
  readonly counts: {
    readonly ops: number;
    readonly tensors: number;
    readonly byRole: Readonly<Record<TensorRole, number>>;
    readonly byOp: Readonly<Record<string, number>>;
  };
  /** The most ops on any path from an input to an output. */
  readonly depth: number;
}

export function analyze(source: TraceGraphLike): GraphAnalysis {
  const graph = asTraceGraph('analyze', source);
  const generations = topologicalGenerations(graph);
  if (generations === null) throw new Error('analyze: the traced graph has a cycle, which a recorded computation cannot have');
  const order = generations.flat();
  const byRole: Record<TensorRole, number> = { input: 0, parameter: 0, buffer: 0, constant: 0, intermediate: 0, output: 0 };
  const byOp: Record<string, number> = {};
  const steps: { key: string; label: string; op: string }[] = [];
  for (const key of order) {
    const attributes = graph.getNodeAttributes(key);
    if (attributes.kind === 'tensor') {
      byRole[attributes.role]++;
    } else {
      byOp[attributes.op] = (byOp[attributes.op] ?? 0) + 1;
      steps.push({ key, label: attributes.label, op: attributes.op });
    }
  }
  // A generation holds the nodes whose longest path from a source has the same length; the
  // generations holding ops count the ops along the longest path.
  const isOp = (key: string) => graph.getNodeAttribute(key, 'kind') === 'op';
  const depth = generations.filter((generation) => generation.some(isOp)).length;
  return {
    order,
    steps,
    counts: { ops: steps.length, tensors: order.length - steps.length, byRole, byOp },
    depth,
  };
}

/**
 * Kahn's walk: first the nodes nothing feeds, in node order; then each node as soon as the last
 * edge into it is taken, one generation past the node whose edge that was. Null when a cycle
 * keeps some nodes from ever being reached.
 */
function topologicalGenerations(graph: TraceGraph): string[][] | null {
  const edgesLeft = new Map<string, number>();
  const queue: string[] = [];
  const generationOf: number[] = [];
  graph.forEachNode((key) => {
    const inDegree = graph.inDegree(key);
    if (inDegree > 0) {
      edgesLeft.set(key, inDegree);
    } else {
      queue.push(key);
      generationOf.push(0);
    }
  });
  for (let head = 0; head < queue.length; head++) {
    const next = generationOf[head] + 1;
    graph.forEachOutNeighbor(queue[head], (user) => {
      const left = edgesLeft.get(user)! - 1;
      edgesLeft.set(user, left);
      if (left === 0) {
        queue.push(user);
        generationOf.push(next);
      }
    });
  }
  if (queue.length < graph.order) return null;
  const generations: string[][] = [];
  queue.forEach((key, i) => {
    if (i === 0 || generationOf[i] !== generationOf[i - 1]) generations.push([]);
    generations[generations.length - 1].push(key);
  });
  return generations;
}
