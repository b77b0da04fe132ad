import { hasCycle, topologicalGenerations, topologicalSort } from 'graphology-dag';
import { expectTraceGraph, type TensorRole, type TraceGraph } from './trace.js';

/*
 * Questions about a traced graph, answered by graphology's own algorithms: the trace is a DAG
 * of alternating tensor and op nodes, so its topological generations alternate too.
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

export function analyze(graph: TraceGraph): GraphAnalysis {
  expectTraceGraph('analyze', graph);
  if (hasCycle(graph)) throw new Error('analyze: the traced graph has a cycle, which a recorded computation cannot have');
  const order = topologicalSort(graph);
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
  const depth = topologicalGenerations(graph).filter((generation) => generation.some(isOp)).length;
  return {
    order,
    steps,
    counts: { ops: steps.length, tensors: order.length - steps.length, byRole, byOp },
    depth,
  };
}
