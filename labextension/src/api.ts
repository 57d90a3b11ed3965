import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** Shapes of the server extension's answers (see cbs_export_lab/server.py). */
export interface IFinding {
  rule: string;
  severity: 'fail' | 'review';
  message: string;
  where: string;
  fix: string;
}

export interface IItem {
  id: string;
  title: string;
  kind: string;
  status: 'pass' | 'review' | 'fail';
  findings: IFinding[];
  background: boolean;
  background_for: string | null;
  explanation: string | null;
  exported: unknown[];
  never_exportable: boolean;
  needs_explanation: boolean;
  has_explanation: boolean;
}

export interface IBudget {
  fraction: number;
  fits: boolean;
  exceeded: string[];
  reasons: string[];
  tables: number;
  cells: number;
  count_cells: number;
  models: number;
  figures: number;
}

export interface IBasket {
  items: IItem[];
  budget: IBudget;
}

export interface ISettings {
  project: string | null;
  researcher: string | null;
  exportmap: string | null;
  mode: string | null;
  detected_mode: string | null;
  mode_source: string;
  exportmap_exists: boolean;
  folders: { name: string; exists: boolean }[];
  problem: string | null;
  project_file: string | null;
  from_project_file: string[];
}

export interface IPlan {
  mode: string;
  zips: { folder: string; name: string; items: string[]; light: boolean }[];
  blocked: { item_id: string; title: string; reason: string }[];
  description: string[];
}

export interface IPrepared {
  exportmap: string;
  zips: { folder: string; name: string; path: string; files: string[] }[];
  blocked: { item_id: string; title: string; reason: string }[];
}

export interface IStripped {
  item: IItem;
  ok: boolean;
  path: string;
  /** What was added and what to do next, in plain words (decided by the server). */
  summary: string;
}

/** Call `/cbs-export-lab/<path>`; a failed call throws an Error carrying the server's plain message. */
export async function requestAPI<T>(path: string, init: RequestInit = {}): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'cbs-export-lab', path);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new Error('The Jupyter server cannot be reached. Is it still running?');
  }
  const text = await response.text();
  let data: any = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const message = data && typeof data.message === 'string' ? data.message : response.statusText;
    throw new Error(message || `The server answered with status ${response.status}.`);
  }
  return data as T;
}

export function sendJSON(method: string, body: unknown): RequestInit {
  return { method, body: JSON.stringify(body) };
}
