/** Every server a test starts registers here; each test file drains the list in afterAll. */
type Disposer = () => Promise<unknown> | unknown;

const leftovers: Disposer[] = [];

export function onDispose(disposer: Disposer): void {
  leftovers.push(disposer);
}

export async function disposeAll(): Promise<void> {
  const all = leftovers.splice(0).reverse();
  await Promise.allSettled(all.map((dispose) => dispose()));
}
