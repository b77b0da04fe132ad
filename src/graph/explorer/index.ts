export { toHtml, HTML_VALUES_LIMIT, type HtmlOptions } from './html.js';
export { explorerData, type ExplorerData, type ExplorerTensor, type ExplorerOp, type ExplorerInput, type ExplorerStep } from './data.js';
