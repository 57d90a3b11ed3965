import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import type { components, paths } from './api-types';

/**
 * The server extension's REST API, typed from its OpenAPI file (cbs_export_lab/rest-api.json): every request and
 * answer type below is taken from the generated api-types.ts (`jlpm run api-types` writes it).
 */
type Schemas = components['schemas'];
export type IItem = Schemas['Item'];
export type IFinding = Schemas['Finding'];
export type IBudget = Schemas['Budget'];
export type IBasket = Schemas['Basket'];
export type ISettings = Schemas['Settings'];
export type ISettingsChange = Schemas['SettingsChange'];
export type IPlan = Schemas['Plan'];
export type IPrepared = Schemas['Prepared'];
export type IStripped = Schemas['Stripped'];
export type ICheckedFile = Schemas['CheckedFile'];
export type IError = Schemas['Error'];

type Route = keyof paths;
type Method = 'get' | 'put' | 'post' | 'delete';
type MethodOf<R extends Route> = {
  [M in Method]: paths[R][M] extends { responses: unknown } ? M : never;
}[Method];
type Operation<R extends Route, M extends MethodOf<R>> = paths[R][M];
type Json<T> = T extends { content: { 'application/json': infer J } } ? J : null;

/** What a route answers on success (null for 204). */
export type AnswerOf<R extends Route, M extends MethodOf<R>> =
  Operation<R, M> extends { responses: { 200: infer OK } } ? Json<OK> : null;
/** What a route takes as its JSON body (never when it takes none). */
export type BodyOf<R extends Route, M extends MethodOf<R>> =
  Operation<R, M> extends { requestBody: { content: { 'application/json': infer B } } }
    ? B
    : Operation<R, M> extends { requestBody?: { content: { 'application/json': infer B } } }
      ? B
      : never;

export interface ICallOptions<R extends Route, M extends MethodOf<R>> {
  /** Values for `{name}` parts of the route. */
  params?: Record<string, string>;
  query?: Record<string, string>;
  body?: BodyOf<R, M>;
}

function urlOf(route: string, params: Record<string, string> = {}, query: Record<string, string> = {}): string {
  const path = route.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(params[name] ?? ''));
  const search = new URLSearchParams(query).toString();
  return path.slice(1) + (search ? `?${search}` : '');
}

function messageOf(data: unknown): string | null {
  if (data && typeof data === 'object' && typeof (data as Partial<IError>).message === 'string') {
    return (data as IError).message;
  }
  return null;
}

/** Call `/cbs-export-lab<route>`; a failed call throws an Error carrying the server's plain message. */
export async function call<R extends Route, M extends MethodOf<R>>(
  route: R,
  method: M,
  options: ICallOptions<R, M> = {}
): Promise<AnswerOf<R, M>> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'cbs-export-lab', urlOf(route, options.params, options.query));
  const init: RequestInit = { method: method.toUpperCase() };
  if (options.body !== undefined) {
    init.body = JSON.stringify(options.body);
  }
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch {
    throw new Error('The Jupyter server cannot be reached. Is it still running?');
  }
  const text = await response.text();
  let data: unknown = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    throw new Error(messageOf(data) || response.statusText || `The server answered with status ${response.status}.`);
  }
  return data as AnswerOf<R, M>;
}
