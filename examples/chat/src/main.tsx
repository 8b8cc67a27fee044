import { ApolloProvider } from '@apollo/client/react';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { createConduitClient, fetchSession } from './conduit';
import './styles.css';

const root = createRoot(document.getElementById('root')!);

fetchSession().then(
  (session) =>
    root.render(
      <StrictMode>
        <ApolloProvider client={createConduitClient(session)}>
          <App user={session.user} />
        </ApolloProvider>
      </StrictMode>,
    ),
  (error: Error) =>
    root.render(
      <p role="alert" className="fatal">
        Could not sign in: {error.message}
      </p>,
    ),
);
