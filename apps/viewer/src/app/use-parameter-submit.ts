/**
 * A form that sends a notebook's parameters (a new run, a sweep, a rerun): the typed values by
 * field, the fields' values collected on submit (a field with a problem shows it and nothing is
 * sent), and the API's refusal put on the fields it names, or shown as one message.
 */
import { NesApiError } from '@nes/client';
import { useState } from 'react';
import { describeError } from './api.tsx';
import {
  collectParameters,
  ParameterError,
  type ParameterField,
  serverFieldErrors,
} from './lib/parameter-form.ts';

export function useParameterSubmit() {
  const [texts, setTexts] = useState<Record<string, string>>({});
  const [serverErrors, setServerErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  /**
   * Sends the fields' values. While `send` runs, and after it succeeds (the page moves on to
   * what was created), the form is busy.
   */
  const submit = async (
    fields: ParameterField[],
    send: (parameters: Record<string, unknown>) => Promise<void>,
  ): Promise<void> => {
    let parameters: Record<string, unknown>;
    try {
      parameters = collectParameters(fields, texts);
    } catch (err) {
      if (err instanceof ParameterError) return; // shown on its field already
      throw err;
    }
    setBusy(true);
    setError(null);
    setServerErrors({});
    try {
      await send(parameters);
    } catch (err) {
      const onFields = err instanceof NesApiError ? serverFieldErrors(err.details) : {};
      setServerErrors(onFields);
      setError(
        Object.keys(onFields).length > 0
          ? 'The service refused some parameters: see the fields marked in red.'
          : describeError(err).message,
      );
      setBusy(false);
    }
  };

  return {
    texts,
    busy,
    error,
    submit,
    /** A field edited: its new text, and the API's error on it no longer applies. */
    change(name: string, text: string) {
      setTexts((t) => ({ ...t, [name]: text }));
      setServerErrors(({ [name]: _gone, ...rest }) => rest);
    },
    /** A fresh form (another notebook). */
    reset() {
      setTexts({});
      setServerErrors({});
      setError(null);
    },
    /** The errors to show by field: a field's own check wins while it is being edited. */
    shownErrors(problems: Record<string, string>): Record<string, string> {
      return { ...serverErrors, ...problems };
    },
  };
}
