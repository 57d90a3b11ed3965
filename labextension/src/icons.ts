import {
  checkIcon,
  errorIcon,
  fileIcon,
  imageIcon,
  infoIcon,
  LabIcon,
  lineFormIcon,
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

export const statusIcons: Record<string, LabIcon> = {
  pass: checkIcon,
  review: infoIcon,
  fail: errorIcon
};

export const kindIcons: Record<string, LabIcon> = {
  table: tableRowsIcon,
  model: lineFormIcon,
  figure: imageIcon,
  syntax: notebookIcon,
  file: fileIcon
};
