export { trace, isTensor, FULL_VALUES_LIMIT, type TraceGraph, type TraceGraphLike, type TraceOptions, type TraceNodeAttributes, type TensorNodeAttributes, type OpNodeAttributes, type TraceEdgeAttributes, type TraceGraphAttributes, type TensorRole, type Phase, type Summary, type ValueSnapshot } from './trace.js';
export { analyze, type GraphAnalysis } from './analysis.js';
export { collapseModules, collapseRepeats, type PictureGraph, type ModuleNodeAttributes } from './collapse.js';
export { toDot, quote, FONT, type DotOptions } from './dot.js';
export { render, renderSvg, svgToPng, GraphvizError, MAX_PNG_PIXELS, type RenderOptions, type RenderFormat } from './render.js';
export { gradientName, localGradients } from './formulas.js';
export * from './explorer/index.js';
