import { Widget } from '@lumino/widgets';
import { deleteIcon, LabIcon, refreshIcon } from '@jupyterlab/ui-components';

import { call, IBudget, IItem, IPlan, IPrepared, ISettings, ISettingsChange } from './api';
import { exportIcon, kindIcons, statusIcons } from './icons';

const POLL_MS = 3000;
const EDITABLE = ['project', 'researcher', 'exportmap', 'mode'] as const;

type Child = Node | string | null | undefined | false;

export function h(tag: string, props: Record<string, string> = {}, ...children: Child[]): HTMLElement {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === 'class') {
      node.className = value;
    } else {
      node.setAttribute(key, value);
    }
  }
  for (const child of children) {
    if (child) {
      node.append(child);
    }
  }
  return node;
}

function icon(labIcon: LabIcon, className = ''): HTMLElement {
  return labIcon.element({ tag: 'span', className: `jp-CbsExport-icon ${className}`, elementPosition: 'center' });
}

function button(label: string, onClick: () => void, className = '', labIcon?: LabIcon): HTMLButtonElement {
  const node = h('button', {
    class: `jp-Button jp-CbsExport-button ${className}`,
    type: 'button',
    title: label
  }) as HTMLButtonElement;
  if (labIcon) {
    node.append(icon(labIcon));
    node.setAttribute('aria-label', label);
  } else {
    node.textContent = label;
  }
  node.addEventListener('click', onClick);
  return node;
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/**
 * The "CBS export" panel: a view over the server extension. Every decision and its wording (status, what may be
 * explained, routing, the budget's verdict) comes from the server; this only shows it and sends what was typed.
 */
export class ExportSidebar extends Widget {
  private settingsBox = h('div', { class: 'jp-CbsExport-settings' });
  private basketBox = h('div', { class: 'jp-CbsExport-basket' });
  private meterBox = h('div', { class: 'jp-CbsExport-light' });
  private planBox = h('div', { class: 'jp-CbsExport-plan' });
  private resultBox = h('div', { class: 'jp-CbsExport-result' });
  private errorBox = h('div', { class: 'jp-CbsExport-error', role: 'alert' });
  private prepareButton: HTMLButtonElement;
  private plannedAt: string | undefined;
  private lastBasket = '';
  private settingsProblem: string | null = null;
  private timer = 0;
  private busy = false;

  constructor() {
    super();
    this.id = 'cbs-export-lab-sidebar';
    this.addClass('jp-CbsExport');
    this.title.icon = exportIcon;
    this.title.caption = 'CBS export: basket and "Prepare export"';
    this.prepareButton = button(
      'Prepare export',
      () => void this.prepare(),
      'jp-mod-styled jp-mod-accept jp-CbsExport-prepare'
    );
    const header = h(
      'header',
      { class: 'jp-CbsExport-header' },
      h('h2', {}, 'CBS export'),
      button('Refresh', () => void this.refresh(), 'jp-CbsExport-iconButton', refreshIcon)
    );
    this.node.append(
      header,
      this.errorBox,
      this.section('Project', this.settingsBox),
      this.section('Basket', this.basketBox),
      this.section('Output light', this.meterBox),
      this.section('Export plan', this.planBox, this.prepareButton, this.resultBox)
    );
    this.errorBox.hidden = true;
  }

  private section(title: string, ...content: HTMLElement[]): HTMLElement {
    return h(
      'section',
      { class: 'jp-CbsExport-section' },
      h('h3', { class: 'jp-CbsExport-sectionTitle' }, title),
      ...content
    );
  }

  protected onAfterShow(): void {
    void this.refresh();
    this.timer = window.setInterval(() => void this.poll(), POLL_MS);
  }

  protected onBeforeHide(): void {
    window.clearInterval(this.timer);
  }

  protected onAfterAttach(): void {
    if (this.isVisible) {
      this.onAfterShow();
    }
  }

  protected onBeforeDetach(): void {
    window.clearInterval(this.timer);
  }

  /** Read everything again (after a change here, or when asked). */
  async refresh(): Promise<void> {
    await this.guard(async () => {
      const settings = await call('/settings', 'get');
      this.renderSettings(settings);
      await this.loadBasket(true);
    });
  }

  /** The kernel may have added items: re-read the basket and redraw only when it changed. */
  private async poll(): Promise<void> {
    if (this.busy || !this.isVisible) {
      return;
    }
    try {
      await this.loadBasket(false);
    } catch {
      // a missed poll is retried in a few seconds; errors from user actions are shown by guard()
    }
  }

  private async loadBasket(force: boolean): Promise<void> {
    const basket = await call('/basket', 'get');
    const key = JSON.stringify(basket);
    if (!force && key === this.lastBasket) {
      return;
    }
    const editing = this.basketBox.contains(document.activeElement) && document.activeElement?.tagName === 'TEXTAREA';
    if (editing && !force) {
      return;
    }
    if (!force) {
      this.resultBox.replaceChildren(); // the basket changed since the last export: its report is history now
    }
    this.lastBasket = key;
    this.renderBasket(basket.items);
    this.renderBudget(basket.budget);
    await this.loadPlan();
  }

  private async loadPlan(): Promise<void> {
    if (this.settingsProblem) {
      this.planBox.replaceChildren(
        h('p', { class: 'jp-CbsExport-note' }, 'The plan appears here once the exportmap above is set and found.')
      );
      this.prepareButton.disabled = true;
      return;
    }
    try {
      this.renderPlan(await call('/plan', 'get'));
    } catch (error) {
      this.planBox.replaceChildren(h('p', { class: 'jp-CbsExport-problem' }, (error as Error).message));
      this.prepareButton.disabled = true;
    }
  }

  private async guard(action: () => Promise<void>): Promise<void> {
    this.busy = true;
    this.showError(null);
    try {
      await action();
    } catch (error) {
      this.showError((error as Error).message);
    } finally {
      this.busy = false;
    }
  }

  private showError(message: string | null): void {
    this.errorBox.hidden = !message;
    this.errorBox.textContent = message ?? '';
  }

  private renderSettings(s: ISettings): void {
    this.settingsProblem = s.problem;
    const fixed = new Set(s.from_project_file);
    const field = (label: string, name: string, value: string | null, placeholder: string): HTMLElement => {
      const input = h('input', {
        class: 'jp-mod-styled jp-CbsExport-input',
        name,
        placeholder,
        'aria-label': label
      }) as HTMLInputElement;
      input.value = value ?? '';
      input.disabled = fixed.has(name);
      return h('label', { class: 'jp-CbsExport-field' }, h('span', {}, label), input);
    };
    const mode = h('select', {
      class: 'jp-mod-styled jp-CbsExport-input',
      name: 'mode',
      'aria-label': 'Mode'
    }) as HTMLSelectElement;
    mode.disabled = fixed.has('mode');
    for (const choice of s.mode_choices) {
      const option = h('option', { value: choice.value }, choice.label) as HTMLOptionElement;
      option.selected = (s.mode ?? '') === choice.value;
      mode.append(option);
    }
    const form = h(
      'form',
      { class: 'jp-CbsExport-form' },
      field('Project number', 'project', s.project, 'e.g. 9876'),
      field('Researcher', 'researcher', s.researcher, 'your name (on the form)'),
      field('Exportmap', 'exportmap', s.exportmap, 'F:/exportmap'),
      h('label', { class: 'jp-CbsExport-field' }, h('span', {}, 'Mode'), mode),
      button('Save settings', () => void this.saveSettings(form as HTMLFormElement), 'jp-mod-styled jp-CbsExport-save')
    );
    form.addEventListener('submit', event => {
      event.preventDefault();
      void this.saveSettings(form as HTMLFormElement);
    });
    const folders = h(
      'ul',
      { class: 'jp-CbsExport-folders' },
      ...s.folders.map(f =>
        h(
          'li',
          { class: f.exists ? 'jp-mod-present' : 'jp-mod-missing' },
          f.exists ? '✓ ' : '– ',
          f.name,
          f.exists ? '' : ' (not there)'
        )
      )
    );
    const summary = [s.project ? `Project ${s.project}` : 'No project number', s.researcher, s.detected_mode]
      .filter(Boolean)
      .join(' · ');
    const details = h(
      'details',
      { class: 'jp-CbsExport-settingsDetails' },
      h('summary', {}, summary),
      form,
      fixed.size && s.project_file
        ? h('p', { class: 'jp-CbsExport-note' }, `Greyed-out values are set in ${s.project_file}; change them there.`)
        : ''
    ) as HTMLDetailsElement;
    details.open = !!s.problem || !s.project;
    this.settingsBox.replaceChildren(
      details,
      h('p', { class: 'jp-CbsExport-mode' }, s.mode_sentence),
      s.notice ? h('p', { class: 'jp-CbsExport-notice' }, s.notice) : '',
      s.exportmap_exists ? folders : '',
      s.problem ? h('p', { class: 'jp-CbsExport-problem' }, s.problem) : ''
    );
  }

  private async saveSettings(form: HTMLFormElement): Promise<void> {
    const body: ISettingsChange = {};
    for (const name of EDITABLE) {
      const input = form.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement;
      if (!input.disabled) {
        body[name] = input.value.trim();
      }
    }
    await this.guard(async () => {
      this.renderSettings(await call('/settings', 'put', { body }));
      this.resultBox.replaceChildren();
      await this.loadBasket(true);
    });
  }

  private renderBasket(items: IItem[]): void {
    if (items.length === 0) {
      this.basketBox.replaceChildren(
        h(
          'p',
          { class: 'jp-CbsExport-empty' },
          'The basket is empty. Check an output in a notebook with %cbs_check and click "Add to export", or strip a notebook into the basket.'
        )
      );
      return;
    }
    const waiting = items.filter(item => item.section === 'waiting');
    const exported = items.filter(item => item.section === 'exported');
    const list = h('ul', { class: 'jp-CbsExport-items' }, ...waiting.map(item => this.renderItem(item)));
    const before = h(
      'details',
      { class: 'jp-CbsExport-exported' },
      h('summary', {}, `Exported before (${exported.length})`),
      h('ul', { class: 'jp-CbsExport-items' }, ...exported.map(item => this.renderItem(item)))
    );
    this.basketBox.replaceChildren(
      waiting.length ? list : h('p', { class: 'jp-CbsExport-empty' }, 'Nothing waiting for the next export.'),
      exported.length ? before : ''
    );
  }

  private renderItem(item: IItem): HTMLElement {
    const status = h(
      'span',
      { class: `jp-CbsExport-status jp-mod-${item.status}`, title: item.status_words },
      icon(statusIcons[item.status] ?? statusIcons.review)
    );
    const kind = kindIcons[item.kind];
    const row = h(
      'div',
      { class: 'jp-CbsExport-itemRow' },
      status,
      h('span', { class: 'jp-CbsExport-itemTitle', title: item.title }, item.title),
      button(
        `Remove "${item.title}" from the basket`,
        () => void this.remove(item),
        'jp-CbsExport-iconButton jp-CbsExport-remove',
        deleteIcon
      )
    );
    const details = item.findings.length
      ? h(
          'details',
          { class: 'jp-CbsExport-findings' },
          h('summary', {}, plural(item.findings.length, 'finding')),
          h(
            'ul',
            {},
            ...item.findings.map(f =>
              h(
                'li',
                { class: `jp-mod-${f.severity}` },
                h('strong', {}, `${f.label}: `),
                f.message,
                f.where ? h('div', { class: 'jp-CbsExport-where' }, `Where: ${f.where}`) : '',
                f.fix ? h('div', { class: 'jp-CbsExport-fix' }, `Fix: ${f.fix}`) : ''
              )
            )
          )
        )
      : '';
    return h(
      'li',
      { class: `jp-CbsExport-item jp-mod-${item.status}`, 'data-item-id': item.id },
      row,
      h(
        'div',
        { class: 'jp-CbsExport-note' },
        h('span', { class: 'jp-CbsExport-kind' }, kind ? icon(kind) : '', item.kind_label),
        ' · ',
        item.notes.join(' · ')
      ),
      details,
      this.explanationPart(item)
    );
  }

  private explanationPart(item: IItem): HTMLElement | string {
    if (item.explanation_state === 'shown') {
      return h('div', { class: 'jp-CbsExport-note' }, `Explanation: ${item.explanation ?? ''}`);
    }
    return item.explanation_state === 'editable' ? this.renderExplanation(item) : '';
  }

  private renderExplanation(item: IItem): HTMLElement {
    const text = h('textarea', {
      class: 'jp-mod-styled jp-CbsExport-explanation',
      rows: '2',
      placeholder: 'Why is there no disclosure risk? Needed before this output can leave.',
      'aria-label': `Explanation for "${item.title}"`
    }) as HTMLTextAreaElement;
    text.value = item.explanation ?? '';
    const save = button(
      'Save explanation',
      () => void this.explain(item, text.value),
      'jp-mod-styled jp-CbsExport-saveExplanation'
    );
    const state = h(
      'span',
      { class: 'jp-CbsExport-note' },
      item.has_explanation ? 'Explanation saved' : 'No explanation yet'
    );
    return h(
      'div',
      { class: 'jp-CbsExport-explain' },
      text,
      h('div', { class: 'jp-CbsExport-explainRow' }, save, state)
    );
  }

  private async explain(item: IItem, text: string): Promise<void> {
    await this.guard(async () => {
      await call('/basket/{item_id}', 'put', { params: { item_id: item.id }, body: { explanation: text } });
      (document.activeElement as HTMLElement | null)?.blur();
      await this.loadBasket(true);
    });
  }

  private async remove(item: IItem): Promise<void> {
    await this.guard(async () => {
      await call('/basket/{item_id}', 'delete', { params: { item_id: item.id } });
      await this.loadBasket(true);
    });
  }

  private renderBudget(budget: IBudget): void {
    if (budget.waiting === 0) {
      this.meterBox.replaceChildren(h('p', { class: 'jp-CbsExport-empty' }, budget.summary));
      return;
    }
    const meter = h('div', {
      class: `jp-CbsExport-meter ${budget.fits ? 'jp-mod-fits' : 'jp-mod-over'}`,
      role: 'meter',
      'aria-valuenow': String(budget.percent),
      'aria-valuemin': '0',
      'aria-valuemax': '100'
    });
    const bar = h('div', { class: 'jp-CbsExport-meterBar' });
    bar.style.width = `${Math.min(budget.percent, 100)}%`;
    meter.append(bar);
    // The summary is the plan's own verdict (reasons and what the budget was spent on), word for word.
    this.meterBox.replaceChildren(meter, h('p', { class: 'jp-CbsExport-meterText' }, budget.summary));
  }

  private renderPlan(plan: IPlan): void {
    this.planBox.replaceChildren(
      h('p', { class: 'jp-CbsExport-note' }, `Mode: ${plan.mode}`),
      h('ul', { class: 'jp-CbsExport-sentences' }, ...plan.description.map(line => h('li', {}, line)))
    );
    this.prepareButton.disabled = !plan.can_prepare;
    this.plannedAt = plan.created ?? undefined;
  }

  private async prepare(): Promise<void> {
    this.prepareButton.disabled = true;
    await this.guard(async () => {
      const body = this.plannedAt ? { planned_at: this.plannedAt } : {};
      const result = await call('/prepare', 'post', { body });
      this.renderResult(result);
      await this.loadBasket(true);
    });
    if (!this.errorBox.hidden) {
      this.prepareButton.disabled = false;
    }
  }

  private renderResult(result: IPrepared): void {
    this.resultBox.replaceChildren(
      result.zips.length ? h('h4', {}, result.headline) : h('p', { class: 'jp-CbsExport-note' }, result.headline),
      result.zips.length
        ? h(
            'ul',
            { class: 'jp-CbsExport-written' },
            ...result.zips.map(z =>
              h(
                'li',
                {},
                h('strong', {}, z.name),
                ` in ${z.folder}`,
                h('div', { class: 'jp-CbsExport-note' }, `${plural(z.files.length, 'file')}: ${z.files.join(', ')}`)
              )
            )
          )
        : '',
      result.held_back.length
        ? h('ul', { class: 'jp-CbsExport-reasons' }, ...result.held_back.map(line => h('li', {}, line)))
        : ''
    );
  }
}
