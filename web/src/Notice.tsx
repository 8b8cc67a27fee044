/** A sentence in place of content: loading, empty, or an error. */
import type { ReactNode } from 'react';

export function Notice(props: { tone: 'quiet' | 'error'; children: ReactNode }) {
  return (
    <p className={`notice ${props.tone}`} role={props.tone === 'error' ? 'alert' : 'status'}>
      {props.children}
    </p>
  );
}
