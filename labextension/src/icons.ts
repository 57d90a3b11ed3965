import {
  checkIcon,
  errorIcon,
  fileIcon,
  imageIcon,
  infoIcon,
  LabIcon,
  notebookIcon,
  tableRowsIcon
} from '@jupyterlab/ui-components';

/** A folder with an arrow leaving it: the exportmap. */
export const exportIcon = new LabIcon({
  name: 'cbs-export-lab:export',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24"><g class="jp-icon3" fill="#616161">' +
    '<path d="M20 6h-8l-2-2H4c-1.1 0-2 .9-2 2v12c0 1.1.9 2 2 2h16c1.1 0 2-.9 2-2V8c0-1.1-.9-2-2-2zm-7 11v-3H9v-3h4V8l4.5 4.5L13 17z"/>' +
    '</g></svg>'
});

/** Points with a fitted line over two axes: a model (regression) item. */
export const modelIcon = new LabIcon({
  name: 'cbs-export-lab:model',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24"><g class="jp-icon3" fill="#616161">' +
    '<path d="M3 3h2v16h16v2H3z"/>' +
    '<path d="M7.2 17.6 6 16 19.2 5.4l1.2 1.6z"/>' +
    '<circle cx="9.5" cy="10" r="1.7"/><circle cx="12" cy="15.5" r="1.7"/>' +
    '<circle cx="15.5" cy="7.5" r="1.7"/><circle cx="18.5" cy="12.5" r="1.7"/>' +
    '</g></svg>'
});

export const statusIcons: Record<string, LabIcon> = {
  pass: checkIcon,
  review: infoIcon,
  fail: errorIcon
};

export const kindIcons: Record<string, LabIcon> = {
  table: tableRowsIcon,
  model: modelIcon,
  figure: imageIcon,
  syntax: notebookIcon,
  file: fileIcon
};
