throw new Error('harness: a script failed on purpose');
