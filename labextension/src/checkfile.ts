import { Dialog } from '@jupyterlab/apputils';
import { PathExt } from '@jupyterlab/coreutils';
import { Widget } from '@lumino/widgets';

import { h } from './sidebar';

/** Table files the server checks as plain tables; the other checkable files are figures. */
export const TABLE_FILES = ['.xlsx', '.csv', '.parquet', '.sav', '.dta'];
const FIGURE_FILES = ['.png', '.pdf'];
/** Table and figure files the server checks (POST /file); the server decides what each becomes. */
export const CHECKABLE = [...TABLE_FILES, ...FIGURE_FILES];

export function isTableFile(path: string): boolean {
  const name = path.toLowerCase();
  return TABLE_FILES.some(suffix => name.endsWith(suffix));
}

/** What the researcher filled in: the item's title and, for a table, the source data file it was computed from. */
export interface ICheckFileAnswer {
  title: string;
  source: string | null;
}

/**
 * The one form of "Check and add to export": the file, the title it gets in the basket and, for a table, the
 * optional source data file. Labels sit above full-width inputs, so the form fits the default dialog width.
 */
export class CheckFileForm extends Widget implements Dialog.IBodyWidget<ICheckFileAnswer> {
  constructor(path: string) {
    super({ node: document.createElement('form') });
    this.addClass('jp-CbsExport-form');
    this.addClass('jp-CbsExport-checkFileForm');
    this.table = isTableFile(path);
    const stem = PathExt.basename(path, PathExt.extname(path));
    this.titleInput = this.input('title', 'Title in the basket', stem, 'What this output shows');
    this.sourceInput = this.input('source', 'Source data file (optional)', '', 'e.g. data/personen.sav');
    const field = (label: string, input: HTMLInputElement): HTMLElement =>
      h('label', { class: 'jp-CbsExport-field' }, h('span', {}, label), input);
    const name = PathExt.basename(path);
    const parts: HTMLElement[] = [];
    if (this.table) {
      parts.push(
        h('p', { class: 'jp-CbsExport-note jp-CbsExport-fileName' }, `${name} is checked as a plain table.`),
        field('Title in the basket', this.titleInput),
        field('Source data file (optional)', this.sourceInput),
        h(
          'p',
          { class: 'jp-CbsExport-note' },
          'The data file the table was computed from, with its path as in the file browser. ' +
            'With it, the check counts the persons or businesses behind every cell.'
        )
      );
    } else {
      parts.push(
        h(
          'p',
          { class: 'jp-CbsExport-note jp-CbsExport-fileName' },
          `${name} is a figure file. It cannot be read, so it goes in for review: afterwards, in the sidebar, ` +
            'write its number of observations (N) and why it discloses nothing.'
        ),
        field('Title in the basket', this.titleInput)
      );
    }
    this.node.append(...parts);
    // Enter in a field is the dialog's "Check and add", not a page reload.
    this.node.addEventListener('submit', event => event.preventDefault());
  }

  getValue(): ICheckFileAnswer {
    return {
      title: this.titleInput.value.trim(),
      source: this.table ? this.sourceInput.value.trim() || null : null
    };
  }

  private input(name: string, label: string, value: string, placeholder: string): HTMLInputElement {
    const node = h('input', {
      class: 'jp-mod-styled jp-CbsExport-input',
      name,
      type: 'text',
      placeholder,
      'aria-label': label
    }) as HTMLInputElement;
    node.value = value;
    return node;
  }

  private readonly table: boolean;
  private readonly titleInput: HTMLInputElement;
  private readonly sourceInput: HTMLInputElement;
}
