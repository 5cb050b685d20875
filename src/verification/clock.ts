import { Injectable } from '@nestjs/common';

/** The time signatures are checked against; tests override this provider. */
@Injectable()
export class Clock {
  nowSeconds(): number {
    return Math.floor(Date.now() / 1000);
  }
}
