/** Providers with their circuit and key pool: the `providers` query, kept current by providerHealth. */
import { useQuery, useSubscription } from 'urql';
import { Notice } from './Notice';
import { describe } from './Overview';

interface Provider {
  name: string;
  type: string;
  keys: number;
  availableKeys: number;
  healthy: boolean;
  circuit: string;
}

const FIELDS = 'name type keys availableKeys healthy circuit';

export function Providers() {
  const [listed] = useQuery<{ providers: Provider[] }>({
    query: `query Providers { providers { ${FIELDS} } }`,
  });
  const [pushed] = useSubscription<{ providerHealth: Provider }, Record<string, Provider>>(
    { query: `subscription ProviderHealth { providerHealth { ${FIELDS} } }` },
    (seen = {}, data) => ({ ...seen, [data.providerHealth.name]: data.providerHealth }),
  );

  let body;
  if (listed.error && !listed.data) {
    body = <Notice tone="error">Providers could not be loaded: {describe(listed.error)}</Notice>;
  } else if (!listed.data) {
    body = <Notice tone="quiet">Loading providers…</Notice>;
  } else if (listed.data.providers.length === 0) {
    body = <Notice tone="quiet">No providers are configured.</Notice>;
  } else {
    const providers = listed.data.providers.map((p) => pushed.data?.[p.name] ?? p);
    body = (
      <ul className="providers">
        {providers.map((p) => (
          <li key={p.name} className={p.healthy ? 'healthy' : 'unhealthy'}>
            <div className="provider-name">
              <span className={`dot ${p.healthy ? 'ok' : 'bad'}`} aria-hidden />
              <strong>{p.name}</strong>
              <span className="sub">{p.type}</span>
            </div>
            <div className="provider-state">
              <span className={`tag ${p.circuit === 'closed' ? 'ok' : 'bad'}`}>
                circuit {p.circuit}
              </span>
              <span className="keys">
                {p.keys === 0
                  ? 'no keys needed'
                  : `${p.availableKeys} of ${p.keys} key${p.keys === 1 ? '' : 's'} available`}
              </span>
            </div>
            {p.keys > 0 && (
              <div className="meter" aria-hidden>
                <div style={{ width: `${(p.availableKeys / p.keys) * 100}%` }} />
              </div>
            )}
          </li>
        ))}
      </ul>
    );
  }
  return (
    <section className="panel" aria-label="Providers">
      <header className="panel-head">
        <h2>Providers</h2>
      </header>
      {body}
    </section>
  );
}
