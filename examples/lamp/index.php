<?php
// One request through the whole stack: nginx hands it to php-fpm, which
// counts it in redis.
$redis = new Redis();
$redis->connect('127.0.0.1', (int) (getenv('REDIS_PORT') ?: 6379));
$hits = $redis->incr('hits');
header('Content-Type: text/plain');
printf(
    "Hello from nginx + PHP %s + redis %s, all under tend: hit #%d, rendered by php-fpm worker %d\n",
    PHP_VERSION,
    $redis->info('server')['redis_version'],
    $hits,
    getmypid()
);
