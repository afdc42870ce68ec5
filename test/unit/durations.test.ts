import { inWords } from '../../common/durations';

describe('inWords', () => {
  it.each([
    [7 * 86_400_000, '7 days'],
    [86_400_000, '1 day'],
    [72 * 3_600_000, '3 days'],
    [36 * 3_600_000, '36 hours'],
    [10 * 60_000, '10 minutes'],
    [20_000, '20 seconds'],
    [1000, '1 second'],
    [1500, '2 seconds'],
    [0, '1 second'],
  ])('%d ms reads "%s"', (ms, words) => {
    expect(inWords(ms)).toBe(words);
  });
});
