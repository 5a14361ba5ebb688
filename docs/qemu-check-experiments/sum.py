import sys, re, json
def SUMMARY(x):
    return bool(re.match(r'(\d+ errors were|\d+ leaked clusters were|\d+ internal errors|No errors were|\d+/\d+ = |Image end offset|qemu-img: Check failed|The following incons|    \d+ (leaked|corrupt)|Double checking)', x))
# compact summary of an out file: json blocks on one line; messages of json run omitted if identical to human run
for fn in sys.argv[1:]:
    print("#####", fn)
    lines = open(fn).read().split('\n')
    i = 0; last_msgs = None
    while i < len(lines):
        l = lines[i]
        if l.startswith('$ qemu-img check --output=json'):
            cmd = l; i += 1; msgs = []; js = []; injs = False
            while i < len(lines) and lines[i].startswith('  |'):
                t = lines[i][4:]
                if t == '{': injs = True
                if injs: js.append(t)
                else: msgs.append(t)
                if t == '}': injs = False
                i += 1
            ex = lines[i] if i < len(lines) else ''
            i += 1
            try:
                d = json.loads('\n'.join(js)) if js else None
                keys = ','.join(f"{k}={v}" for k, v in d.items() if k not in ('filename','format')) if d else 'NO JSON'
            except Exception as e:
                keys = 'BAD JSON ' + repr(js)
            m = '' if msgs == [x for x in (last_msgs or []) if not SUMMARY(x)] else (' msgs=' + repr(msgs))
            print(f"  JSON[{ex.strip()}] {keys}{m}")
            continue
        if l.startswith('$ qemu-img check'):
            print(l); i += 1; msgs = []
            while i < len(lines) and lines[i].startswith('  |'):
                t = lines[i][4:]
                if t.strip() and not t.startswith(('Data may be','This means waste')):
                    msgs.append(t)
                    print('   ', t)
                i += 1
            last_msgs = [x for x in msgs]
            continue
        if l.startswith('$ qemu-img compare'):
            i += 1; r = []
            while i < len(lines) and lines[i].startswith('  |'):
                r.append(lines[i][4:]); i += 1
            print('  compare:', ' / '.join(r), lines[i].strip()); i += 1
            continue
        if l.strip() and not l.startswith('  vs '):
            print(l)
        i += 1
