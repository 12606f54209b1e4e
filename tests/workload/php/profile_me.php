<?php
// Known call paths for the PHP frame tests: ?case= selects what runs.
// Line numbers of the functions are asserted on: keep them where they are.
require __DIR__ . '/profile_lib.php';

function spin_for($ms)
{
    $end = hrtime(true) + $ms * 1000000;
    $x = 0;
    while (hrtime(true) < $end) {
        $x = ($x * 31 + 7) % 1000003;
    }
    return $x;
}

function work_seventy($ms)
{
    return spin_for($ms);
}

function work_thirty($ms)
{
    return spin_for($ms);
}

function recurse_down($n, $ms)
{
    if ($n == 0) {
        return spin_for($ms);
    }
    return recurse_down($n - 1, $ms);
}

function sleep_a_while($ms)
{
    usleep($ms * 1000);
}

function match_long_string($ms, $pattern)
{
    $subject = str_repeat('ab', 200000) . 'c';
    $end = hrtime(true) + $ms * 1000000;
    $n = 0;
    while (hrtime(true) < $end) {
        $n += (int)preg_match($pattern, $subject);
    }
    return $n;
}

function throw_deep($n)
{
    if ($n == 0) {
        spin_for(30);
        throw new RuntimeException('from the bottom');
    }
    throw_deep($n - 1);
}

$case = $_GET['case'] ?? 'shares';
$ms = max(1, min(2000, (int)($_GET['ms'] ?? 200)));
switch ($case) {
case 'shares':
    work_seventy($ms * 7 / 10);
    work_thirty($ms * 3 / 10);
    break;
case 'method':
    (new Basket())->total($ms);
    break;
case 'recursion':
    recurse_down(20, $ms);
    break;
case 'include':
    included_work($ms);
    break;
case 'sleep':
    sleep_a_while($ms);
    break;
case 'preg':
    // PCRE's interpreter (a pattern of its own: compiled patterns are
    // cached per process, JIT-compiled or not).
    ini_set('pcre.jit', '0');
    match_long_string($ms, '/(a|b)*d/');
    break;
case 'preg_jit':
    match_long_string($ms, '/(a|b)*e/');
    break;
case 'exception':
    try {
        throw_deep(5);
    } catch (RuntimeException $e) {
        echo "caught\n";
    }
    break;
case 'fatal':
    spin_for(30);
    undefined_function_called_here();
    break;
case 'opcache':
    // Whether this very script came from opcache's shared memory.
    $on = function_exists('opcache_is_script_cached') && opcache_is_script_cached(__FILE__);
    echo 'opcache ', $on ? 1 : 0, ' ', ini_get('opcache.enable'), "\n";
    break;
case 'callback':
    array_map(function ($v) use ($ms) { return spin_for($ms); }, [1]);
    break;
}
echo "done $case\n";
