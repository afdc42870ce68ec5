import { commonPasswords, passwordProblem } from '../../api/security/password-policy';

describe('password policy (NIST SP 800-63B)', () => {
  it('ships at least the 10,000 most common passwords', () => {
    expect(commonPasswords().size).toBeGreaterThanOrEqual(10_000);
    expect(commonPasswords().has('password')).toBe(true);
  });

  it.each([
    ['1234567', /at least 8/],
    ['😀😀😀😀😀😀😀', /at least 8/],
    ['a'.repeat(73), /72 bytes/],
    ['€'.repeat(25), /72 bytes/],
    ['Password', /too common/],
    ['qwertyuiop', /too common/],
    ['ada@example.com', /email/],
    ['ADA@EXAMPLE.COM', /email/],
  ])('refuses %j', (pw, why) => {
    expect(passwordProblem(pw, 'ada@example.com')).toMatch(why);
  });

  it('refuses the local part of the email as the password, in any case', () => {
    expect(passwordProblem('ada.lovelace', 'ada.lovelace@example.com')).toMatch(/email/);
    expect(passwordProblem('Ada.Lovelace', 'ada.lovelace@example.com')).toMatch(/email/);
    expect(passwordProblem('ada.lovelace', 'grace.hopper@example.com')).toBeUndefined();
  });

  it.each(['correct horse battery staple', 'a'.repeat(72), '😀😀😀😀😀😀😀😀', 'lowercaseonly', '        ', '€'.repeat(24)])(
    'accepts %j (no composition rules, spaces allowed, counted in code points)',
    (pw) => {
      expect(passwordProblem(pw, 'ada@example.com')).toBeUndefined();
    },
  );
});
